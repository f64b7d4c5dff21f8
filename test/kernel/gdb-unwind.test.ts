// Real gdb unwinds the kernel with frame pointers alone: snapshot the
// machine into an ELF core file (memory + one NT_PRSTATUS per thread), load
// it with the kernel's symbol file, and read gdb's `bt` — for CPUs, for
// tasks asleep in msleep(), and for tasks preempted by the tick (through
// the timer_interrupt frame record).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildKernelElf, buildKernelImage } from '../../src/kernel/image.js';
import { INACTIVE_FRAME, PCPU, PERCPU_STRIDE, TASK, TASK_STRUCT_SIZE } from '../../src/kernel/layout.js';
import { symbolAddr } from '../../src/kernel/link.js';
import { canon, createMachine } from '../../src/system.js';
import type { Machine } from '../../src/target/machine.js';

const image = buildKernelImage();
const sym = (n: string): number => canon(symbolAddr(image, n));
const dir = mkdtempSync(join(tmpdir(), 'kgdb-sim-core-'));
afterAll(() => { if (!process.env.KEEP_CORE) rmSync(dir, { recursive: true, force: true }); });

interface Regs { rip: bigint; rsp: bigint; rbp: bigint; rbx?: bigint; r12?: bigint; r13?: bigint; r14?: bigint; r15?: bigint }

/** An x86-64 Linux-style ELF core: PT_NOTE with NT_PRSTATUS per thread, PT_LOAD per kernel section. */
function writeCore(m: Machine, threads: Regs[]): Buffer {
  const notes: Buffer[] = [];
  threads.forEach((r, i) => {
    const desc = Buffer.alloc(336);
    desc.writeInt32LE(i + 1, 32); // pr_pid
    const regs = [r.r15 ?? 0n, r.r14 ?? 0n, r.r13 ?? 0n, r.r12 ?? 0n, r.rbp, r.rbx ?? 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n,
      -1n, r.rip, 0x10n, 0x2n, r.rsp, 0x18n, 0n, 0n, 0x18n, 0x18n, 0n, 0n];
    regs.forEach((v, j) => desc.writeBigUInt64LE(BigInt.asUintN(64, v), 112 + 8 * j));
    const hdr = Buffer.alloc(20);
    hdr.writeUInt32LE(5, 0);
    hdr.writeUInt32LE(desc.length, 4);
    hdr.writeUInt32LE(1, 8); // NT_PRSTATUS
    hdr.write('CORE\0', 12, 'latin1');
    notes.push(hdr, desc); // 12-byte header + "CORE\0" padded to 8, then the descriptor
  });
  const note = Buffer.concat(notes);
  const segs = image.sections.map((s) => ({ addr: s.addr, bytes: Buffer.from(m.mem.peek(canon(s.addr), s.size)!) }));
  const phnum = 1 + segs.length;
  let off = 64 + 56 * phnum;
  const noteOff = off;
  off += note.length;
  const segOff = segs.map((s) => { off = Math.ceil(off / 4096) * 4096; const o = off; off += s.bytes.length; return o; });
  const out = Buffer.alloc(off);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0);
  out.writeUInt16LE(4, 16); // ET_CORE
  out.writeUInt16LE(62, 18);
  out.writeUInt32LE(1, 20);
  out.writeBigUInt64LE(64n, 32);
  out.writeUInt16LE(64, 52);
  out.writeUInt16LE(56, 54);
  out.writeUInt16LE(phnum, 56);
  out.writeUInt16LE(64, 58);
  const ph = (i: number, type: number, flags: number, o: number, vaddr: bigint, size: number, align: number): void => {
    const p = 64 + 56 * i;
    out.writeUInt32LE(type, p);
    out.writeUInt32LE(flags, p + 4);
    out.writeBigUInt64LE(BigInt(o), p + 8);
    out.writeBigUInt64LE(vaddr, p + 16);
    out.writeBigUInt64LE(0n, p + 24);
    out.writeBigUInt64LE(BigInt(size), p + 32);
    out.writeBigUInt64LE(BigInt(size), p + 40);
    out.writeBigUInt64LE(BigInt(align), p + 48);
  };
  ph(0, 4 /* PT_NOTE */, 4, noteOff, 0n, note.length, 4);
  out.set(note, noteOff);
  segs.forEach((s, i) => {
    ph(i + 1, 1 /* PT_LOAD */, 6, segOff[i], s.addr, s.bytes.length, 4096);
    out.set(s.bytes, segOff[i]);
  });
  return out;
}

function gdbBacktraces(m: Machine, threads: Regs[]): string[][] {
  const vmlinux = join(dir, 'vmlinux');
  const core = join(dir, `core.${Math.random().toString(36).slice(2)}`);
  writeFileSync(vmlinux, buildKernelElf());
  writeFileSync(core, writeCore(m, threads));
  const r = spawnSync('gdb', ['-batch', '-nx', vmlinux, core, '-ex', 'set pagination off', '-ex', 'thread apply all bt'], {
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  // "Thread N (...)": frames "#k  0x... in name ()" or "#0  name () "
  const byThread = new Map<number, string[]>();
  let cur = -1;
  for (const line of r.stdout.split('\n')) {
    const t = /^Thread (\d+) /.exec(line);
    if (t) { cur = +t[1]; byThread.set(cur, []); continue; }
    const f = /^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(/.exec(line);
    if (f && cur > 0) byThread.get(cur)!.push(f[1]);
  }
  return threads.map((_, i) => byThread.get(i + 1) ?? []);
}

const u64 = (m: Machine, a: number): bigint => m.mem.peek64(a)!;

function sleepingRegs(m: Machine, task: number): Regs {
  const sp = u64(m, task + TASK.thread_sp);
  const at = (o: number): bigint => u64(m, canon(sp) + o);
  return {
    rip: at(INACTIVE_FRAME.ret_addr), rsp: sp + BigInt(INACTIVE_FRAME.size), rbp: at(INACTIVE_FRAME.bp),
    rbx: at(INACTIVE_FRAME.bx), r12: at(INACTIVE_FRAME.r12), r13: at(INACTIVE_FRAME.r13),
    r14: at(INACTIVE_FRAME.r14), r15: at(INACTIVE_FRAME.r15),
  };
}

/** Is a switched-out task stopped inside timer_interrupt (preempted by the tick)? Walks its frame records. */
function inTimerInterrupt(m: Machine, task: number): boolean {
  const r = sleepingRegs(m, task);
  const lo = BigInt.asUintN(64, BigInt(sym('timer_interrupt')));
  const hi = lo + BigInt(image.symbols.find((s) => s.name === 'timer_interrupt')!.size);
  for (let bp = r.rbp, n = 0; bp !== 0n && n < 20; bp = u64(m, canon(bp)), n++) {
    const ret = u64(m, canon(bp) + 8);
    if (ret >= lo && ret < hi) return true;
  }
  return false;
}

describe('gdb unwinds the kernel from a core snapshot', () => {
  it('through msleep, the timer interrupt frame, and the idle loop', () => {
    const m = createMachine(image, { cpus: 2, seed: 5 });
    const tasks = Array.from({ length: 5 }, (_, i) => sym('task_table') + i * TASK_STRUCT_SIZE);
    const current = (c: number): number => canon(u64(m, sym('per_cpu_area') + c * PERCPU_STRIDE + PCPU.current_task));
    let found: { preempted: number; sleeper: number } | null = null;
    for (let t = 5e6; t < 5e8 && !found; t += 1.1e6) {
      m.run(t);
      const off = tasks.filter((p) => current(0) !== p && current(1) !== p);
      const preempted = off.find((p) => u64(m, p + TASK.state) === 0n && inTimerInterrupt(m, p));
      const sleeper = off.find((p) => p === tasks[0] && u64(m, p + TASK.state) === 2n);
      if (preempted !== undefined && sleeper !== undefined) found = { preempted, sleeper };
    }
    expect(found).not.toBeNull();
    const cpuRegs = m.cpus.map((c) => ({ rip: BigInt(c.rip), rsp: BigInt(c.addrOf(4)), rbp: BigInt(c.addrOf(5)) }));
    const [preempted, sleeper, cpu0, cpu1] = gdbBacktraces(m, [
      sleepingRegs(m, found!.preempted), sleepingRegs(m, found!.sleeper), ...cpuRegs,
    ]);
    expect(sleeper).toEqual(['schedule', 'schedule_timeout', 'msleep', 'counter_loop', 'counter_thread', 'ret_from_fork']);
    // preempted by the tick: unwound through timer_interrupt's frame record into the thread
    expect(preempted.slice(0, 3), preempted.join(' <- ')).toEqual(['schedule', 'preempt_schedule_irq', 'timer_interrupt']);
    expect(preempted[preempted.length - 1], preempted.join(' <- ')).toBe('ret_from_fork');
    for (const bt of [cpu0, cpu1]) {
      expect(bt.length).toBeGreaterThan(0);
      expect(['startup_64', 'ret_from_fork'], bt.join(' <- ')).toContain(bt[bt.length - 1]);
    }
  });

  it('shows an idle CPU halted in default_idle, called from the boot path', () => {
    const m = createMachine(image, { cpus: 4, seed: 2 });
    m.run(3e8);
    const idle = m.cpus.filter((c) => {
      const area = sym('per_cpu_area') + c.id * PERCPU_STRIDE;
      return u64(m, area + PCPU.current_task) === u64(m, area + PCPU.idle_task) && c.halted;
    });
    expect(idle.length).toBeGreaterThan(0);
    const bts = gdbBacktraces(m, idle.map((c) => ({ rip: BigInt(c.rip), rsp: BigInt(c.addrOf(4)), rbp: BigInt(c.addrOf(5)) })));
    idle.forEach((c, i) => {
      expect(bts[i]).toEqual(['default_idle', 'cpu_idle', 'cpu_startup_entry', c.id === 0 ? 'start_kernel' : 'start_secondary', 'startup_64']);
    });
  });
});
