// Every form of the opcode table, encoded with representative and random
// operands, must (1) decode back to the same operands with our decoder and
// (2) be decoded by objdump to the same length and the same AT&T text that our
// formatter prints. objdump runs once on one big blob.

import { describe, expect, it } from 'vitest';
import { FORMS, VALID_CR, VALID_DR, type Form } from '../../src/target/x86/opcodes.js';
import { decode, formatInstr } from '../../src/target/x86/decoder.js';
import { NOREG, SEG_FS, SEG_GS, SEG_NONE, type Instr, type MemOperand, type Seg } from '../../src/target/x86/instr.js';
import { encodeForm, EncodeError, type EncodeArgs } from '../../src/kernel/asm-encode.js';
import { objdump, normalise, objdumpVersion } from './oracle.js';

// deterministic PRNG (xorshift32)
let seed = 0x12345678;
function rnd(n: number): number {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed % n;
}
const pick = <T>(a: readonly T[]): T => a[rnd(a.length)]!;
const rnd32 = (): number => (rnd(0x10000) << 16 | rnd(0x10000)) | 0;

function randMem(): MemOperand {
  const seg: Seg = pick([SEG_NONE, SEG_NONE, SEG_NONE, SEG_GS, SEG_FS]);
  const disp = pick([0, 0, 8, -8, 127, -128, 128, -129, 0x7fffffff, -0x80000000, rnd32(), rnd(256) - 128]);
  const base = (): number => pick([0, 3, 4, 5, 12, 13, rnd(16)]);
  const index = (): number => { let x; do x = rnd(16); while (x === 4); return x; };
  const scale = pick([1, 2, 4, 8] as const);
  switch (rnd(6)) {
    case 0: return { base: base(), index: NOREG, scale: 1, disp, ripRel: false, seg };
    case 1: return { base: base(), index: index(), scale, disp, ripRel: false, seg };
    case 2: return { base: NOREG, index: index(), scale, disp, ripRel: false, seg };
    case 3: return { base: NOREG, index: NOREG, scale: 1, disp, ripRel: false, seg }; // absolute disp32 (SIB no base)
    case 4: return { base: NOREG, index: NOREG, scale: 1, disp, ripRel: true, seg };
    default: return { base: pick([4, 5, 12, 13]), index: NOREG, scale: 1, disp: 0, ripRel: false, seg };
  }
}

const isByteKind = (f: Form, k: string): boolean => k === 'rm8' || (f.size === 1 && (k === 'r' || k === 'rm' || k === 'o'));

function randImm(bits: number, sample: number): bigint {
  const lim = 1n << BigInt(bits - 1);
  const edges = [0n, 1n, -1n, lim - 1n, -lim, 2n, lim >> 1n];
  if (sample < edges.length) return edges[sample]!;
  let v = 0n;
  for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(rnd(0x10000));
  return BigInt.asIntN(bits, v);
}

interface Case { form: Form; args: EncodeArgs; bytes: number[]; offset: number }

function genArgs(f: Form, sample: number): EncodeArgs {
  const a: EncodeArgs = {};
  for (const k of f.ops) {
    const byte = isByteKind(f, k);
    const gpr = (): number => (byte ? rnd(20) : rnd(16));
    switch (k) {
      case 'r': a.reg = sample < 16 ? sample : gpr(); break;
      case 'o': {
        let r = sample < 16 ? sample : gpr();
        if (f.mnemonic === 'xchg' && r === 0) r = 8; // 90 is nop
        a.reg = r;
        break;
      }
      case 'cr': a.reg = pick(VALID_CR); break;
      case 'dr': a.reg = pick(VALID_DR); break;
      case 'rr': a.rm = rnd(16); break;
      case 'rm': case 'rm8': case 'rm16': case 'rm32':
        if (rnd(2) === 0 && !(f.lock && sample % 3 === 0)) a.rm = byte ? rnd(20) : rnd(16);
        else a.mem = randMem();
        break;
      case 'm': a.mem = randMem(); break;
      case 'imm8': a.imm = randImm(8, sample); break;
      case 'uimm8': a.imm = BigInt(sample < 3 ? [0, 1, 255][sample]! : rnd(256)); break;
      case 'imm16': a.imm = randImm(16, sample); break;
      case 'imm32': a.imm = randImm(32, sample); break;
      case 'imm64': a.imm = randImm(64, sample); break;
      case 'rel8': a.rel = sample < 3 ? [0, -128, 127][sample]! : rnd(256) - 128; break;
      case 'rel32': a.rel = sample < 3 ? [0, -0x80000000, 0x7fffffff][sample]! : rnd32(); break;
      default: break;
    }
  }
  if (f.cc) a.cond = sample % 16;
  if (f.lock && a.mem && sample % 3 === 0) a.lock = true;
  return a;
}

const SAMPLES = 24;
const cases: Case[] = [];
const blob: number[] = [];
for (const f of FORMS) {
  let made = 0;
  for (let s = 0; made < SAMPLES && s < SAMPLES * 20; s++) {
    const args = genArgs(f, made);
    let enc;
    try { enc = encodeForm(f, args); } catch (e) {
      if (e instanceof EncodeError) continue; // e.g. AH with a REX-requiring operand: regenerate
      throw e;
    }
    cases.push({ form: f, args, bytes: enc.bytes, offset: blob.length });
    blob.push(...enc.bytes);
    made++;
    if (f.ops.length === 0 && !f.cc) break; // one sample is enough for operand-less forms
  }
}
const blobBytes = Uint8Array.from(blob);
const fetch8 = (a: number): number => {
  if (a < 0 || a >= blobBytes.length) throw new Error(`fetch out of blob at ${a}`);
  return blobBytes[a]!;
};

function expected(c: Case, len: number): Partial<Instr> {
  const f = c.form, a = c.args;
  const e: Partial<Instr> = {
    addr: c.offset, len, next: c.offset + len, formId: f.id, mnemonic: f.mnemonic, size: f.size,
    lock: a.lock === true, reg: NOREG, rm: NOREG, mem: null, immLo: 0, immHi: 0, cond: f.cc ? a.cond! : -1, target: 0,
  };
  for (const k of f.ops) {
    switch (k) {
      case 'r': case 'o': case 'cr': case 'dr': e.reg = a.reg!; break;
      case 'acc': e.rm = 0; break;
      case 'rr': e.rm = a.rm!; break;
      case 'rm': case 'm': case 'rm8': case 'rm16': case 'rm32':
        if (a.mem) e.mem = a.mem; else e.rm = a.rm!;
        break;
      case 'one': e.immLo = 1; break;
      case 'uimm8': e.immLo = Number(a.imm!); break;
      case 'imm8': case 'imm16': case 'imm32': case 'imm64': {
        const v = BigInt.asUintN(64, a.imm!);
        e.immLo = Number(BigInt.asIntN(32, v));
        e.immHi = Number(BigInt.asIntN(32, v >> 32n));
        break;
      }
      case 'rel8': case 'rel32': e.target = c.offset + len + a.rel!; break;
      default: break;
    }
  }
  // byte registers: our numbering of AH..BH is 16-19 and SPL..DIL is 4-7 in both directions
  return e;
}

describe('encoding: every form, our decoder and objdump agree', () => {
  it('objdump is installed (the oracle must not be skipped)', () => {
    expect(objdumpVersion()).toMatch(/GNU objdump/);
  });

  it('covers every form of the table', () => {
    const seen = new Set(cases.map((c) => c.form.id));
    const missing = FORMS.filter((f) => !seen.has(f.id)).map((f) => `${f.id} ${f.mnemonic} ${f.encoding}`);
    expect(missing).toEqual([]);
    expect(cases.length).toBeGreaterThan(FORMS.length * 5);
  });

  it('our decoder decodes every encoding back to the same operands', () => {
    const bad: string[] = [];
    for (const c of cases) {
      const d = decode(fetch8, c.offset);
      const hex = c.bytes.map((x) => x.toString(16).padStart(2, '0')).join(' ');
      if (d === 'ud') { bad.push(`${c.form.id} ${c.form.mnemonic} [${hex}] -> ud`); continue; }
      const exp = expected(c, c.bytes.length);
      const got: Partial<Instr> = {};
      for (const k of Object.keys(exp) as (keyof Instr)[]) (got as Record<string, unknown>)[k] = d[k];
      try { expect(got).toEqual(exp); } catch {
        bad.push(`${c.form.id} ${c.form.mnemonic} [${hex}]\n  got ${JSON.stringify(got)}\n  exp ${JSON.stringify(exp)}`);
      }
    }
    expect(bad.slice(0, 20).join('\n')).toBe('');
  });

  it('objdump decodes the same bytes to the same length and text', () => {
    const od = objdump(blobBytes);
    const bad: string[] = [];
    let compared = 0;
    for (const c of cases) {
      const hex = c.bytes.map((x) => x.toString(16).padStart(2, '0')).join(' ');
      const o = od.get(c.offset);
      const d = decode(fetch8, c.offset);
      if (!o) { bad.push(`${c.form.mnemonic} [${hex}] @${c.offset}: objdump has no instruction here`); continue; }
      if (d === 'ud') continue; // reported by the previous test
      const ours = normalise(formatInstr(d));
      if (o.len !== c.bytes.length || o.text !== ours) {
        bad.push(`${c.form.id} ${c.form.encoding} [${hex}]: objdump ${o.len} '${o.text}' vs ours ${c.bytes.length} '${ours}'`);
      }
      compared++;
    }
    expect(bad.slice(0, 40).join('\n')).toBe('');
    expect(compared).toBe(cases.length);
  });
});
