// Low-level encoder: one form of the opcode table + operands in the decoder's
// own numbering (Instr) -> bytes. Used by the assembler DSL (asm.ts) and the
// encoding tests. It never chooses between forms; asm.ts does.

import type { Form } from '../target/x86/opcodes.js';
import { immBytes } from '../target/x86/opcodes.js';
import type { MemOperand } from '../target/x86/instr.js';
import { NOREG, SEG_FS, SEG_GS } from '../target/x86/instr.js';

export interface EncodeArgs {
  /** ModRM.reg / opcode register ('r', 'o', 'cr', 'dr'), Instr numbering (byte: 4-7 = SPL..DIL need REX, 16-19 = AH..BH forbid it). */
  reg?: number;
  /** Register in ModRM.rm ('rm' with mod 3, 'rr'). */
  rm?: number;
  /** Memory operand in ModRM.rm. */
  mem?: MemOperand | null;
  /** Immediate (encoded to the form's width, two's complement). */
  imm?: bigint;
  /** Relative branch displacement as stored (target - next). */
  rel?: number;
  /** Condition code for +cc forms. */
  cond?: number;
  lock?: boolean;
}

export interface Encoded {
  bytes: number[];
  /** Offset of the 32-bit displacement field when the memory operand is RIP-relative (or absolute disp32), else -1. */
  dispAt: number;
  /** Offset of the immediate field, else -1. */
  immAt: number;
  /** Offset of the rel8/rel32 field, else -1. */
  relAt: number;
}

export class EncodeError extends Error {}

function isByteKind(f: Form, k: string): boolean {
  return k === 'rm8' || (f.size === 1 && (k === 'r' || k === 'rm' || k === 'o'));
}

/** Encode one instruction of form `f`. Throws EncodeError when the operands do not fit the form. */
export function encodeForm(f: Form, a: EncodeArgs): Encoded {
  let rex = 0;
  let needRex = false;
  let forbidRex = false;
  let modrmReg = f.ext >= 0 ? f.ext : 0;
  let opcodeLow = 0;
  let mod = 0, rmBits = 0;
  let sib = -1;
  let disp: number | null = null;
  let dispSize = 0;
  let dispIsField32 = false;
  let seg = 0;
  let immVal: bigint | null = null;
  let immSize = 0;
  let rel: number | null = null;
  let relSize = 0;

  const gpr = (n: number | undefined, byte: boolean, what: string): number => {
    if (n === undefined || n === NOREG) throw new EncodeError(`${f.mnemonic}: missing ${what}`);
    if (byte) {
      if (n >= 16 && n <= 19) { forbidRex = true; return n - 12; }
      if (n >= 4 && n <= 7) needRex = true;
    }
    if (n < 0 || n > 15) throw new EncodeError(`${f.mnemonic}: bad register ${n} for ${what}`);
    return n;
  };

  for (const k of f.ops) {
    const byte = isByteKind(f, k);
    switch (k) {
      case 'r': {
        const n = gpr(a.reg, byte, 'reg');
        modrmReg = n & 7;
        if (n & 8) rex |= 4;
        break;
      }
      case 'cr': case 'dr': {
        const n = a.reg ?? -1;
        if (n < 0 || n > 7) throw new EncodeError(`${f.mnemonic}: bad ${k}${n}`);
        modrmReg = n;
        break;
      }
      case 'o': {
        const n = gpr(a.reg, byte, 'reg');
        opcodeLow = n & 7;
        if (n & 8) rex |= 1;
        break;
      }
      case 'rr': case 'rm': case 'm': case 'rm8': case 'rm16': case 'rm32': {
        const m = k === 'rr' ? null : (a.mem ?? null);
        if (!m) {
          if (k === 'm') throw new EncodeError(`${f.mnemonic}: needs a memory operand`);
          const n = gpr(a.rm, byte, 'rm');
          mod = 3;
          rmBits = n & 7;
          if (n & 8) rex |= 1;
          break;
        }
        seg = m.seg;
        const d = m.disp | 0;
        if (d !== m.disp) throw new EncodeError(`${f.mnemonic}: displacement out of range`);
        if (m.ripRel) {
          if (m.base !== NOREG || m.index !== NOREG) throw new EncodeError('rip-relative with base/index');
          mod = 0; rmBits = 5; disp = d; dispSize = 4; dispIsField32 = true;
          break;
        }
        const base = m.base, index = m.index;
        if (index !== NOREG) {
          if (index === 4) throw new EncodeError('rsp cannot be an index');
          if (index < 0 || index > 15) throw new EncodeError('bad index');
        }
        if (base !== NOREG && (base < 0 || base > 15)) throw new EncodeError('bad base');
        const sc = m.scale === 1 ? 0 : m.scale === 2 ? 1 : m.scale === 4 ? 2 : m.scale === 8 ? 3 : -1;
        if (sc < 0) throw new EncodeError('bad scale');
        if (base === NOREG) {
          // SIB without base: disp32 (absolute, or index*scale + disp32)
          mod = 0; rmBits = 4;
          const ix = index === NOREG ? 4 : index;
          if (ix & 8) rex |= 2;
          sib = (sc << 6) | ((ix & 7) << 3) | 5;
          disp = d; dispSize = 4; dispIsField32 = true;
          break;
        }
        if (base & 8) rex |= 1;
        if (d === 0 && (base & 7) !== 5) { mod = 0; }
        else if (d >= -128 && d <= 127) { mod = 1; disp = d; dispSize = 1; }
        else { mod = 2; disp = d; dispSize = 4; }
        if (index !== NOREG || (base & 7) === 4) {
          rmBits = 4;
          const ix = index === NOREG ? 4 : index;
          if (ix & 8) rex |= 2;
          sib = (sc << 6) | ((ix & 7) << 3) | (base & 7);
        } else {
          rmBits = base & 7;
        }
        break;
      }
      case 'acc': case 'one': case 'cl':
        break;
      case 'imm8': case 'uimm8': case 'imm16': case 'imm32': case 'imm64':
        if (a.imm === undefined) throw new EncodeError(`${f.mnemonic}: missing immediate`);
        immVal = a.imm;
        immSize = immBytes(k);
        break;
      case 'rel8': case 'rel32':
        if (a.rel === undefined) throw new EncodeError(`${f.mnemonic}: missing target`);
        rel = a.rel;
        relSize = immBytes(k);
        if (relSize === 1 ? rel < -128 || rel > 127 : rel !== (rel | 0)) throw new EncodeError(`${f.mnemonic}: branch out of range`);
        break;
    }
  }
  if (f.w) rex |= 8;
  if (needRex && forbidRex) throw new EncodeError(`${f.mnemonic}: AH/CH/DH/BH cannot be used with a REX prefix`);
  if ((rex !== 0 || needRex) && forbidRex) throw new EncodeError(`${f.mnemonic}: AH/CH/DH/BH cannot be used with a REX prefix`);

  // prefix order as GNU as emits it: segment, 66, F3, F0, REX
  const out: number[] = [];
  if (seg === SEG_FS) out.push(0x64);
  else if (seg === SEG_GS) out.push(0x65);
  if (f.osz === 'v' && f.size === 2) out.push(0x66);
  if (f.prefix) out.push(f.prefix);
  if (a.lock) {
    if (!f.lock) throw new EncodeError(`${f.mnemonic}: LOCK not allowed`);
    if (mod === 3 || !f.modrm) throw new EncodeError(`${f.mnemonic}: LOCK needs a memory destination`);
    out.push(0xf0);
  }
  if (rex !== 0 || needRex) out.push(0x40 | rex);
  if (f.map === 1) out.push(0x0f);
  let op = f.opcode;
  if (f.plusR) op += opcodeLow;
  if (f.cc) {
    const c = a.cond ?? -1;
    if (c < 0 || c > 15) throw new EncodeError(`${f.mnemonic}: bad condition`);
    op += c;
  }
  out.push(op);
  if (f.modrmFixed >= 0) out.push(f.modrmFixed);
  else if (f.modrm) {
    if (f.ops.includes('rr')) mod = 3;
    out.push((mod << 6) | (modrmReg << 3) | rmBits);
    if (sib >= 0) out.push(sib);
  }
  let dispAt = -1;
  if (disp !== null) {
    if (dispIsField32) dispAt = out.length;
    pushLE(out, BigInt(disp), dispSize);
  }
  let immAt = -1;
  if (immVal !== null) {
    immAt = out.length;
    pushLE(out, immVal, immSize);
  }
  let relAt = -1;
  if (rel !== null) {
    relAt = out.length;
    pushLE(out, BigInt(rel), relSize);
  }
  if (out.length > 15) throw new EncodeError(`${f.mnemonic}: longer than 15 bytes`);
  return { bytes: out, dispAt, immAt, relAt };
}

function pushLE(out: number[], v: bigint, n: number): void {
  let x = BigInt.asUintN(n * 8, v);
  for (let i = 0; i < n; i++) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
  }
}
