// The kernel image and its ELF symbol file, checked with the real tools:
// gdb resolves every symbol, `disassemble counter_inc` shows the image's
// bytes, objdump decodes all of .text, readelf finds nothing to complain about.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Asm, qword, rax } from '../../src/kernel/asm.js';
import { writeElf } from '../../src/kernel/elf.js';
import { assembleKernel, buildKernelImage } from '../../src/kernel/image.js';
import {
  KERNEL_TEXT_BASE, LinkError, findSymbol, formatAddr, link, symbolAddr, symbolize, type Image,
} from '../../src/kernel/link.js';
import { SYM } from '../../src/kernel/layout.js';

const FUNCS = [
  'startup_64', 'start_kernel', 'start_secondary', 'default_idle', 'cpu_idle', 'timer_interrupt',
  'smp_apic_timer_interrupt', 'schedule', '__switch_to', 'ret_from_fork', '_raw_spin_lock',
  '_raw_spin_trylock', '_raw_spin_unlock', '_raw_spin_lock_irqsave', '_raw_spin_unlock_irqrestore',
  'msleep', 'printk', 'panic', 'kgdb_breakpoint', 'counter_thread', 'counter_loop', 'counter_inc',
  'worker_thread', 'crunch_thread', 'wake_up_process', 'scheduler_tick', 'page_fault', 'int3', 'nmi', 'debug',
];
const OBJECTS = [
  'jiffies', 'counter_value', 'log_buf', 'log_buf_len', 'log_end', 'per_cpu_area', 'task_table', 'nr_tasks',
  'idle_tasks', 'nr_cpu_ids', 'idt_table', 'demo_lock', 'nr_running', 'panic_cpu',
];

let dir: string;
let elfPath: string;
let image: Image;

beforeAll(() => {
  image = buildKernelImage();
  dir = mkdtempSync(join(tmpdir(), 'kgdb-sim-kernel-'));
  elfPath = join(dir, 'vmlinux');
  writeFileSync(elfPath, writeElf(image));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function gdb(...cmds: string[]): string {
  const args = ['-batch', '-nx', elfPath];
  for (const c of cmds) args.push('-ex', c);
  const r = spawnSync('gdb', args, { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout + r.stderr;
}

const hex = (a: bigint): string => '0x' + BigInt.asUintN(64, a).toString(16);

describe('kernel image', () => {
  it('places .text at 0xffffffff81000000 and .data/.bss after it, page aligned', () => {
    const names = image.sections.map((s) => s.name);
    expect(names).toEqual(['.text', '.data', '.bss']);
    expect(image.sections[0].addr).toBe(KERNEL_TEXT_BASE);
    let end = 0n;
    for (const s of image.sections) {
      expect(s.addr % 4096n).toBe(0n);
      expect(s.addr >= end).toBe(true);
      end = s.addr + BigInt(s.size);
    }
    expect(image.sections[2].bytes.length).toBe(0); // .bss: no contents, only a size
    expect(image.sections[2].size).toBeGreaterThan(0);
    expect(image.sections.map((s) => s.perms)).toEqual(['rx', 'rw', 'rw']);
    expect(image.entry).toBe(symbolAddr(image, 'startup_64'));
  });

  it('has every required symbol with the right kind and a size', () => {
    for (const f of FUNCS) {
      const s = findSymbol(image, f);
      expect(s, f).toBeDefined();
      expect(s!.kind, f).toBe('func');
      expect(s!.section, f).toBe('.text');
      expect(s!.size, f).toBeGreaterThan(0);
    }
    for (const o of OBJECTS) {
      const s = findSymbol(image, o);
      expect(s, o).toBeDefined();
      expect(s!.kind, o).toBe('object');
      expect(s!.size, o).toBeGreaterThan(0);
    }
    for (const name of Object.values(SYM)) expect(findSymbol(image, name), name).toBeDefined();
  });

  it('starts every function but startup_64 with the frame-pointer prologue push rbp; mov rbp, rsp', () => {
    const text = image.sections[0];
    for (const s of image.symbols) {
      if (s.kind !== 'func' || s.name === 'startup_64') continue;
      const off = Number(s.addr - text.addr);
      expect([...text.bytes.subarray(off, off + 4)], s.name).toEqual([0x55, 0x48, 0x89, 0xe5]);
    }
  });

  it('is deterministic: two builds give the same bytes and symbols', () => {
    const again = assembleKernel();
    expect(again.sections.length).toBe(image.sections.length);
    image.sections.forEach((s, i) => {
      expect(again.sections[i].addr).toBe(s.addr);
      expect(again.sections[i].size).toBe(s.size);
      expect(Buffer.from(again.sections[i].bytes).equals(Buffer.from(s.bytes))).toBe(true);
    });
    expect(again.symbols).toEqual(image.symbols);
    expect(Buffer.from(writeElf(again)).equals(Buffer.from(writeElf(image)))).toBe(true);
  });

  it('symbolizes addresses to symbol+offset', () => {
    const inc = symbolAddr(image, 'counter_inc');
    expect(symbolize(image, inc)?.name).toBe('counter_inc');
    expect(formatAddr(image, inc + 4n)).toBe('counter_inc+0x4');
    const lb = symbolAddr(image, 'log_buf');
    expect(formatAddr(image, lb + 100n)).toBe('log_buf+0x64');
    expect(symbolize(image, 0x1000n)).toBeUndefined();
  });
});

describe('linker', () => {
  const textWith = (build: (a: Asm) => void): Asm => {
    const a = new Asm();
    build(a);
    return a;
  };

  it('resolves rel32, abs64 and abs32s across sections', () => {
    let movabsAt = 0, leaEnd = 0;
    const text = textWith((a) => {
      a.func('startup_64', () => {
        movabsAt = a.offset;
        a.mov(rax, a.addr('thing', 8)); // abs64
        a.lea(rax, qword('thing')); // rel32 to another section
        leaEnd = a.offset;
        a.call('helper'); // resolved by the assembler
      });
      a.func('helper', () => a.ret());
    });
    const data = new Asm({ fill: 0 });
    data.object('thing', 16);
    data.object('ptr', 0, () => data.quad(data.addr('helper', 1)));
    const img = link([
      { name: '.text', perms: 'rx', out: text.finish() },
      { name: '.data', perms: 'rw', out: data.finish() },
    ]);
    const t = img.sections[0];
    const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset);
    expect(dv.getBigUint64(movabsAt + 2, true)).toBe(symbolAddr(img, 'thing') + 8n);
    const disp = BigInt(dv.getInt32(leaEnd - 4, true));
    expect(t.addr + BigInt(leaEnd) + disp).toBe(symbolAddr(img, 'thing'));
    const d = img.sections[1];
    expect(new DataView(d.bytes.buffer, d.bytes.byteOffset).getBigUint64(16, true)).toBe(symbolAddr(img, 'helper') + 1n);
    expect(d.addr).toBe(t.addr + 4096n);
  });

  it('reports undefined symbols, out-of-range rel32 and abs32s, and a missing entry', () => {
    const a = textWith((x) => x.func('startup_64', () => x.call('nowhere')));
    expect(() => link([{ name: '.text', perms: 'rx', out: a.finish() }])).toThrow(/undefined symbol 'nowhere'/);
    const far = (): Asm => {
      const d = new Asm({ fill: 0 });
      d.object('far', 8);
      return d;
    };
    const b = textWith((x) => x.func('startup_64', () => x.call('far')));
    expect(() =>
      link([
        { name: '.text', perms: 'rx', out: b.finish() },
        { name: '.data', perms: 'rw', out: far().finish(), addr: KERNEL_TEXT_BASE + 0x1_0000_0000n },
      ]),
    ).toThrow(/rel32 to 'far' out of range/);
    const c = textWith((x) => x.func('startup_64', () => x.push(x.addr('far')))); // push imm32: abs32s
    expect(() =>
      link([
        { name: '.text', perms: 'rx', out: c.finish() },
        { name: '.data', perms: 'rw', out: far().finish(), addr: 0x1_0000_0000n },
      ], { base: 0x1000n }),
    ).toThrow(/abs32s/);
    const e = textWith((x) => x.func('not_the_entry', () => x.ret()));
    expect(() => link([{ name: '.text', perms: 'rx', out: e.finish() }])).toThrow(LinkError);
  });
});

describe('ELF symbol file', () => {
  it('readelf -a reads it cleanly', () => {
    const r = spawnSync('readelf', ['-a', '-W', elfPath], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/Type:\s+EXEC/);
    expect(r.stdout).toMatch(/Machine:\s+Advanced Micro Devices X86-64/);
    expect(r.stdout).toMatch(/Entry point address:\s+0xffffffff81000000/);
    expect(r.stdout).not.toMatch(/^readelf:|Warning:|Error:|corrupt/m);
    for (const n of ['.text', '.data', '.bss', '.symtab', '.strtab', '.shstrtab']) expect(r.stdout).toContain(n);
    expect(r.stdout).toMatch(/FUNC\s+GLOBAL\s+DEFAULT\s+1 counter_inc/);
    expect(r.stdout).toMatch(/OBJECT\s+GLOBAL\s+DEFAULT\s+2 jiffies/);
    expect((r.stdout.match(/^\s+LOAD\s/gm) ?? []).length).toBe(3);
  });

  it('objdump -d decodes all of .text with no (bad)', () => {
    const out = execFileSync('objdump', ['-d', elfPath], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(out).not.toContain('(bad)');
    for (const f of FUNCS) expect(out).toContain(`<${f}>:`);
  });

  it('gdb resolves every symbol to its address', () => {
    const names = [...FUNCS, ...OBJECTS];
    const out = gdb(...names.map((n) => `info address ${n}`));
    for (const n of names) {
      const re = new RegExp(`Symbol "${n.replace(/[$]/g, '\\$&')}" is at (0x[0-9a-f]+) in a file compiled without debugging`);
      const m = re.exec(out);
      expect(m, n).not.toBeNull();
      expect(BigInt(m![1]), n).toBe(symbolAddr(image, n));
    }
  });

  it('gdb names addresses inside functions and objects (info symbol)', () => {
    const probes: [string, bigint][] = [
      ['counter_inc', 4n], ['schedule', 10n], ['timer_interrupt', 1n], ['jiffies', 0n], ['log_buf', 100n],
    ];
    const out = gdb(...probes.map(([n, off]) => `info symbol ${hex(symbolAddr(image, n) + off)}`));
    for (const [n, off] of probes) {
      const sect = findSymbol(image, n)!.section;
      expect(out).toContain(off === 0n ? `${n} in section ${sect}` : `${n} + ${off} in section ${sect}`);
    }
  });

  it('gdb disassembles counter_inc to exactly the bytes in the image', () => {
    const out = gdb('disassemble /r counter_inc');
    const inc = findSymbol(image, 'counter_inc')!;
    const text = image.sections[0];
    const off = Number(inc.addr - text.addr);
    const want = [...text.bytes.subarray(off, off + inc.size)].map((b) => b.toString(16).padStart(2, '0'));
    const got: string[] = [];
    for (const line of out.split('\n')) {
      const m = /^\s+0x[0-9a-f]+ <\+\d+>:\t([0-9a-f ]+)\t/.exec(line);
      if (m) got.push(...m[1].trim().split(' '));
    }
    expect(got).toEqual(want);
    expect(out).toMatch(/incq\s+0x[0-9a-f]+\(%rip\)\s+# 0x[0-9a-f]+ <counter_value>/);
  });
});
