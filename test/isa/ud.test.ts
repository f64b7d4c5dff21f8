// Encodings outside the subset decode to 'ud' at the exact address; prefixes
// and special cases of the decoder.

import { describe, expect, it } from 'vitest';
import { decode, formatInstr } from '../../src/target/x86/decoder.js';
import { FORMS } from '../../src/target/x86/opcodes.js';
import { NOREG, SEG_GS, AH, type Instr } from '../../src/target/x86/instr.js';
import { objdump, normalise } from './oracle.js';

const BASE = -0x7f000000; // kernel text 0xffffffff81000000 as a signed canonical number

/** Decode bytes placed at BASE + pad (fetches outside the bytes fault). */
function dec(bytes: number[], pad = 3): Instr | 'ud' {
  const start = BASE + pad;
  return decode((a) => {
    const i = a - start;
    if (i < 0 || i >= bytes.length) throw new RangeError(`fetch outside at ${a - start}`);
    return bytes[i]!;
  }, start);
}

function ok(bytes: number[]): Instr {
  const d = dec(bytes);
  if (d === 'ud') throw new Error(`unexpected ud for ${bytes.map((x) => x.toString(16)).join(' ')}`);
  return d;
}

const UD: [string, number[]][] = [
  ['syscall 0F 05', [0x0f, 0x05]],
  ['sysret 0F 07', [0x0f, 0x07]],
  ['cpuid 0F A2', [0x0f, 0xa2]],
  ['EVEX 62', [0x62, 0xf1, 0x7c, 0x48, 0x10, 0x00]],
  ['VEX C5', [0xc5, 0xf8, 0x77]],
  ['lock mov', [0xf0, 0x48, 0x89, 0x07]],
  ['lock on a register destination', [0xf0, 0x48, 0x01, 0xc0]],
  ['lock cmp (not lockable)', [0xf0, 0x48, 0x39, 0x07]],
  ['lock nop', [0xf0, 0x90]],
  ['lock inc reg', [0xf0, 0x48, 0xff, 0xc0]],
  ['REX before a legacy prefix', [0x48, 0x66, 0x01, 0xc0]],
  ['two REX prefixes', [0x48, 0x48, 0x01, 0xc0]],
  ['F2 on add', [0xf2, 0x01, 0xc0]],
  ['rep ret', [0xf3, 0xc3]],
  ['F2 90', [0xf2, 0x90]],
  ['66 on push', [0x66, 0x50]],
  ['66 on jmp rel32', [0x66, 0xe9, 0, 0, 0, 0]],
  ['66 on byte op', [0x66, 0x00, 0xc0]],
  ['66 with REX.W', [0x66, 0x48, 0x01, 0xc0]],
  ['iret without REX.W', [0xcf]],
  ['popcnt F3 0F B8', [0xf3, 0x0f, 0xb8, 0xc0]],
  ['lea with a register source', [0x48, 0x8d, 0xc0]],
  ['mov to cr1', [0x0f, 0x22, 0xc8]],
  ['mov from cr8 (REX.R)', [0x44, 0x0f, 0x20, 0xc0]],
  ['gs on an instruction without memory', [0x65, 0x90]],
  ['0F 01 other than swapgs', [0x0f, 0x01, 0xf9]],
  ['setcc with reg field 1', [0x0f, 0x94, 0xc8]],
  ['FF /3 (far call)', [0xff, 0x18]],
  ['FF /7', [0xff, 0xf8]],
  ['8F /1', [0x8f, 0xc8]],
  ['C6 /1', [0xc6, 0xc8, 0x00]],
  ['F7 /1', [0xf7, 0xc8, 0, 0, 0, 0]],
  ['D1 /6 (sal alias)', [0xd1, 0xf0]],
  ['D1 /2 (rcl)', [0xd1, 0xd0]],
  ['int 0x80', [0xcd, 0x80]],
  ['movs string op', [0xa4]],
  ['0F 38 map', [0x0f, 0x38, 0x00, 0xc0]],
  ['82 (invalid in 64-bit)', [0x82, 0xc0, 0x01]],
  ['movabs moffs A1', [0xa1, 0, 0, 0, 0, 0, 0, 0, 0]],
  ['15 prefixes', [...Array(14).fill(0x66), 0x01, 0xc0]],
  ['16-byte instruction', [0x65, 0xf0, 0x65, 0x65, 0x48, 0x81, 0x84, 0x80, 1, 0, 0, 0, 2, 0, 0, 0]],
];

describe('unsupported encodings are #UD at the exact address', () => {
  for (const [name, bytes] of UD) {
    it(name, () => {
      expect(dec(bytes)).toBe('ud');
    });
  }

  it('ud2 is in the table (0F 0B), and is not "ud"', () => {
    const d = ok([0x0f, 0x0b]);
    expect(d.mnemonic).toBe('ud2');
    expect(d.len).toBe(2);
  });

  it('a 15-byte instruction is still legal', () => {
    // gs lock gs REX.W 81 /0 SIB disp32 imm32 = 15 bytes (one more gs is the 16-byte case above)
    const bytes = [0x65, 0xf0, 0x65, 0x48, 0x81, 0x84, 0x80, 1, 0, 0, 0, 2, 0, 0, 0];
    const d = ok(bytes);
    expect(d.len).toBe(15);
    expect(d.lock).toBe(true);
    expect(d.mnemonic).toBe('add');
    expect(d.mem).toEqual({ base: 0, index: 0, scale: 4, disp: 1, ripRel: false, seg: SEG_GS });
  });

  it('15 bytes of redundant prefixes are legal', () => {
    const d = ok([...Array(13).fill(0x66), 0x01, 0xc0]);
    expect([d.len, d.size, d.mnemonic]).toEqual([15, 2, 'add']);
  });

  it('a page fault from fetch8 propagates', () => {
    expect(() => decode(() => { throw new Error('#PF'); }, BASE)).toThrow('#PF');
    expect(() => dec([0x48])).toThrow(RangeError); // REX then nothing: the fetch of byte 2 faults
  });
});

describe('decoder details', () => {
  it('addresses are signed canonical numbers; branch targets are absolute', () => {
    const d = ok([0xe8, 0xfb, 0xff, 0xff, 0xff]); // call .-0 (rel -5 → itself)
    expect(d.addr).toBe(BASE + 3);
    expect(d.next).toBe(BASE + 8);
    expect(d.target).toBe(BASE + 3);
    const j = ok([0x0f, 0x85, 0x00, 0x01, 0x00, 0x00]);
    expect(j.mnemonic).toBe('jcc');
    expect(j.cond).toBe(5);
    expect(j.target).toBe(BASE + 3 + 6 + 256);
    expect(j.immLo).toBe(0);
  });

  it('RIP-relative is not pre-resolved', () => {
    const d = ok([0x48, 0x8b, 0x05, 0xf0, 0xff, 0xff, 0xff]);
    expect(d.mem).toEqual({ base: NOREG, index: NOREG, scale: 1, disp: -16, ripRel: true, seg: 0 });
  });

  it('8-bit registers: 4-7 are AH..BH without REX, SPL..DIL with any REX', () => {
    expect(ok([0x88, 0xe0]).rm).toBe(0); // mov %ah,%al: rm=al, reg=ah
    expect(ok([0x88, 0xe0]).reg).toBe(AH);
    expect(ok([0x40, 0x88, 0xe0]).reg).toBe(4); // spl
    expect(ok([0x0f, 0xb6, 0xc7]).rm).toBe(19); // movzbl %bh,%eax
    expect(ok([0x40, 0x0f, 0xb6, 0xc7]).rm).toBe(7); // movzbl %dil,%eax
    expect(ok([0x0f, 0xb6, 0xc7]).reg).toBe(0); // destination is 32-bit: eax, not affected
    expect(ok([0xb4, 0x01]).reg).toBe(AH); // mov $1,%ah
  });

  it('nop, pause and xchg share 90', () => {
    expect(ok([0x90]).mnemonic).toBe('nop');
    expect(ok([0xf3, 0x90]).mnemonic).toBe('pause');
    const x = ok([0x41, 0x90]);
    expect([x.mnemonic, x.reg, x.rm, x.size]).toEqual(['xchg', 8, 0, 4]);
    const y = ok([0x48, 0x93]);
    expect([y.mnemonic, y.reg, y.rm, y.size]).toEqual(['xchg', 3, 0, 8]);
  });

  it('immediates are sign-extended per form; shift counts zero-extended; shift by 1 has immLo 1', () => {
    const a = ok([0x48, 0x83, 0xc4, 0x80]); // add $-128,%rsp
    expect([a.immLo, a.immHi]).toEqual([-128, -1]);
    const m = ok([0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 0x88]); // movabs
    expect([m.immLo >>> 0, m.immHi >>> 0]).toEqual([0x04030201, 0x88070605]);
    const c7 = ok([0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff]);
    expect([c7.immLo, c7.immHi]).toEqual([-1, -1]);
    const sh = ok([0x48, 0xc1, 0xe0, 0xff]);
    expect([sh.mnemonic, sh.immLo, sh.immHi]).toEqual(['shl', 255, 0]);
    const one = ok([0x48, 0xd1, 0xe8]);
    expect([one.mnemonic, one.immLo]).toEqual(['shr', 1]);
    const w = ok([0x66, 0x05, 0x00, 0x80]); // add $0x8000,%ax
    expect([w.size, w.immLo, w.immHi]).toEqual([2, -0x8000, -1]);
  });

  it('accumulator short forms decode with rm = RAX', () => {
    const d = ok([0x48, 0x3d, 0x10, 0, 0, 0]); // cmp $0x10,%rax
    expect([d.mnemonic, d.rm, d.reg, d.mem, d.immLo]).toEqual(['cmp', 0, NOREG, null, 16]);
  });

  it('mov to/from CR and DR', () => {
    const t = ok([0x0f, 0x22, 0xd8]);
    expect([t.mnemonic, t.reg, t.rm]).toEqual(['mov_to_cr', 3, 0]);
    const f = ok([0x41, 0x0f, 0x21, 0xf9]);
    expect([f.mnemonic, f.reg, f.rm]).toEqual(['mov_from_dr', 7, 9]);
  });

  it('REX.W on a default-64 form is accepted, prefixes may come in any order', () => {
    expect(ok([0x48, 0x50]).mnemonic).toBe('push');
    const d = ok([0x65, 0xf0, 0x48, 0xff, 0x00]);
    expect([d.mnemonic, d.lock, d.mem?.seg]).toEqual(['inc', true, SEG_GS]);
    const e = ok([0xf0, 0x65, 0x48, 0xff, 0x00]);
    expect(e.formId).toBe(d.formId);
  });

  it('every formId maps to its form and mnemonic', () => {
    FORMS.forEach((f, i) => expect(f.id).toBe(i));
  });

  it('formatInstr matches objdump on hand-picked encodings incl. RIP comments', () => {
    const progs: number[][] = [
      [0x48, 0x8b, 0x05, 0x10, 0, 0, 0],
      [0xf0, 0x48, 0xff, 0x05, 0xf0, 0xff, 0xff, 0xff],
      [0x65, 0x48, 0x8b, 0x04, 0x25, 0x10, 0, 0, 0],
      [0x48, 0x8b, 0x45, 0x00],
      [0x49, 0x8b, 0x04, 0x24],
      [0x4a, 0x8b, 0x04, 0xe0],
      [0x48, 0x99], [0x99], [0x48, 0x98],
      [0x48, 0x63, 0xc1],
      [0xff, 0x24, 0xc5, 0x00, 0x10, 0, 0],
      [0xeb, 0xfe],
    ];
    const flat = progs.flat();
    const od = objdump(Uint8Array.from(flat));
    let off = 0;
    for (const p of progs) {
      const d = decode((a) => flat[a]!, off);
      expect(d).not.toBe('ud');
      const o = od.get(off)!;
      expect(normalise(formatInstr(d as Instr))).toBe(o.text);
      expect((d as Instr).len).toBe(o.len);
      if ((d as Instr).mem?.ripRel) expect(formatInstr(d as Instr)).toMatch(/# 0x[0-9a-f]+$/);
      off += p.length;
    }
  });
});
