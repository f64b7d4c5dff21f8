// The assembler DSL the kernel is written in (contract: docs/isa.md "Assembler").
// Intel operand order (dst, src). Every instruction is encoded through the one
// opcode table (src/target/x86/opcodes.ts): among the forms of a mnemonic that
// accept the operands, the shortest encoding wins (ties: table order), which
// is what GNU as does (imm8 forms for small immediates, rAX short forms).

import { FORMS_BY_MNEMONIC, type Form } from '../target/x86/opcodes.js';
import {
  NOREG, SEG_FS, SEG_GS, SEG_NONE, type MemOperand, type OpSize, type Seg,
} from '../target/x86/instr.js';
import { encodeForm, EncodeError, type EncodeArgs, type Encoded } from './asm-encode.js';

export { EncodeError } from './asm-encode.js';

// ---------------------------------------------------------------- operands

/** A general register. `n` uses Instr numbering (byte regs: 4-7 SPL..DIL, 16-19 AH..BH). */
export interface Reg {
  readonly kind: 'reg';
  readonly n: number;
  readonly size: OpSize;
  readonly name: string;
}
/** A control or debug register (mov to/from only). */
export interface SpecialReg {
  readonly kind: 'cr' | 'dr';
  readonly n: number;
  readonly name: string;
}
/** A memory operand; size comes from the builder (qword/dword/word/byte). */
export interface Mem {
  readonly kind: 'mem';
  readonly size: OpSize;
  readonly base: Reg | null;
  readonly index: Reg | null;
  readonly scale: 1 | 2 | 4 | 8;
  readonly disp: number;
  readonly seg: Seg;
  /** RIP-relative reference to a symbol or label: [rip + sym + disp]. */
  readonly sym: string | null;
  /** Plain RIP-relative displacement ([rip + disp]) without a symbol. */
  readonly rip: boolean;
}
/** A symbol's absolute address used as an immediate or data (abs64 / abs32s relocation). */
export interface AddrRef {
  readonly kind: 'addr';
  readonly sym: string;
  readonly addend: number;
  /** Set by Asm.addr() for a '.local' label: `sym` is then the scoped key. */
  readonly local?: boolean;
}
export type Imm = number | bigint | AddrRef;
/** Any instruction operand; a string is a branch target (label or symbol name). */
export type Operand = Reg | SpecialReg | Mem | Imm | string;

const R64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
const R8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b', 'ah', 'ch', 'dh', 'bh'];

const mk = (n: number, size: OpSize, name: string): Reg => Object.freeze({ kind: 'reg', n, size, name });
/** All general registers by size, indexed by register number (byte: 0-19). */
export const REGS: { readonly [K in OpSize]: readonly Reg[] } = {
  8: R64.map((s, i) => mk(i, 8, s)),
  4: R32.map((s, i) => mk(i, 4, s)),
  2: R16.map((s, i) => mk(i, 2, s)),
  1: R8.map((s, i) => mk(i, 1, s)),
};
const q = REGS[8], d = REGS[4], w = REGS[2], b = REGS[1];
export const rax = q[0]!, rcx = q[1]!, rdx = q[2]!, rbx = q[3]!, rsp = q[4]!, rbp = q[5]!, rsi = q[6]!, rdi = q[7]!;
export const r8 = q[8]!, r9 = q[9]!, r10 = q[10]!, r11 = q[11]!, r12 = q[12]!, r13 = q[13]!, r14 = q[14]!, r15 = q[15]!;
export const eax = d[0]!, ecx = d[1]!, edx = d[2]!, ebx = d[3]!, esp = d[4]!, ebp = d[5]!, esi = d[6]!, edi = d[7]!;
export const r8d = d[8]!, r9d = d[9]!, r10d = d[10]!, r11d = d[11]!, r12d = d[12]!, r13d = d[13]!, r14d = d[14]!, r15d = d[15]!;
export const ax = w[0]!, cx = w[1]!, dx = w[2]!, bx = w[3]!, sp = w[4]!, bp = w[5]!, si = w[6]!, di = w[7]!;
export const r8w = w[8]!, r9w = w[9]!, r10w = w[10]!, r11w = w[11]!, r12w = w[12]!, r13w = w[13]!, r14w = w[14]!, r15w = w[15]!;
export const al = b[0]!, cl = b[1]!, dl = b[2]!, bl = b[3]!, spl = b[4]!, bpl = b[5]!, sil = b[6]!, dil = b[7]!;
export const r8b = b[8]!, r9b = b[9]!, r10b = b[10]!, r11b = b[11]!, r12b = b[12]!, r13b = b[13]!, r14b = b[14]!, r15b = b[15]!;
export const ah = b[16]!, ch = b[17]!, dh = b[18]!, bh = b[19]!;

const sr = (kind: 'cr' | 'dr', n: number): SpecialReg => Object.freeze({ kind, n, name: kind + n });
export const cr0 = sr('cr', 0), cr2 = sr('cr', 2), cr3 = sr('cr', 3), cr4 = sr('cr', 4);
export const dr0 = sr('dr', 0), dr1 = sr('dr', 1), dr2 = sr('dr', 2), dr3 = sr('dr', 3);
export const dr6 = sr('dr', 6), dr7 = sr('dr', 7);

/** Marker for `qword({ base: rip, disp })`: a plain RIP-relative displacement. */
export const rip: Reg = Object.freeze({ kind: 'reg', n: -2, size: 8, name: 'rip' });

export interface MemSpec {
  base?: Reg;
  index?: Reg;
  scale?: 1 | 2 | 4 | 8;
  disp?: number;
  /** RIP-relative reference to a symbol/label (no base/index allowed). */
  sym?: string;
  seg?: 'gs' | 'fs';
}

function mem(size: OpSize, a: Reg | MemSpec | string, disp = 0): Mem {
  let spec: MemSpec;
  if (typeof a === 'string') spec = { sym: a, disp };
  else if ('kind' in a) spec = { base: a, disp };
  else spec = a;
  const base = spec.base ?? null;
  const index = spec.index ?? null;
  const isRip = base === rip;
  for (const r of [isRip ? null : base, index]) {
    if (r && (r.kind !== 'reg' || r.size !== 8 || r.n < 0)) throw new EncodeError(`address register must be 64-bit: ${r.name}`);
  }
  if (index && index.n === 4) throw new EncodeError('rsp cannot be an index register');
  if (spec.sym !== undefined && (base || index)) throw new EncodeError('a symbol operand is RIP-relative: no base/index');
  const dsp = spec.disp ?? 0;
  if (!Number.isInteger(dsp) || dsp < -0x80000000 || dsp > 0x7fffffff) throw new EncodeError(`displacement out of range: ${dsp}`);
  return Object.freeze({
    kind: 'mem',
    size,
    base: isRip ? null : base,
    index,
    scale: spec.scale ?? 1,
    disp: dsp,
    seg: spec.seg === 'gs' ? SEG_GS : spec.seg === 'fs' ? SEG_FS : SEG_NONE,
    sym: spec.sym ?? null,
    rip: isRip,
  });
}

/** 64-bit memory operand: qword(rbp, -8), qword({ base, index, scale, disp, sym, seg }), qword('sym'). */
export function qword(a: Reg | MemSpec | string, disp = 0): Mem { return mem(8, a, disp); }
export function dword(a: Reg | MemSpec | string, disp = 0): Mem { return mem(4, a, disp); }
export function word(a: Reg | MemSpec | string, disp = 0): Mem { return mem(2, a, disp); }
export function byte(a: Reg | MemSpec | string, disp = 0): Mem { return mem(1, a, disp); }

// ---------------------------------------------------------------- output

export interface AsmSymbol {
  name: string;
  offset: number;
  size: number;
  kind: 'func' | 'object' | 'label';
}
export interface AsmReloc {
  offset: number;
  kind: 'rel32' | 'abs64' | 'abs32s';
  sym: string;
  addend: number;
}
export interface AsmOutput {
  bytes: Uint8Array;
  symbols: AsmSymbol[];
  relocs: AsmReloc[];
}

const CONDS: Record<string, number> = {
  o: 0, no: 1, b: 2, c: 2, nae: 2, ae: 3, nb: 3, nc: 3, e: 4, z: 4, ne: 5, nz: 5,
  be: 6, na: 6, a: 7, nbe: 7, s: 8, ns: 9, p: 10, pe: 10, np: 11, po: 11,
  l: 12, nge: 12, ge: 13, nl: 13, le: 14, ng: 14, g: 15, nle: 15,
};
/** Condition code number of a condition name (o no b ae e ne be a s ns p np l ge le g and aliases). */
export function condCode(c: string): number {
  const v = CONDS[c];
  if (v === undefined) throw new EncodeError(`unknown condition '${c}'`);
  return v;
}

interface Fixup {
  at: number; // field offset
  kind: 'rel32' | 'abs64' | 'abs32s';
  name: string; // symbol name, or the scoped key of a local label
  local: boolean;
  addend: number;
  where: string;
}

interface Choice { form: Form; args: EncodeArgs; enc: Encoded; memSym: string | null; immRef: AddrRef | null; relTarget: string | null }

export interface AsmOptions {
  /** Padding byte for align(): 0xCC (int3) for text (default), 0 for data. */
  fill?: number;
}

export class Asm {
  private buf: number[] = [];
  private readonly syms = new Map<string, AsmSymbol>();
  private readonly symOrder: AsmSymbol[] = [];
  private readonly locals = new Map<string, number>();
  private readonly fixups: Fixup[] = [];
  private curFunc: string | null = null;
  private pendingLock = false;
  private finished = false;
  private readonly fill: number;

  constructor(opts: AsmOptions = {}) {
    this.fill = opts.fill ?? 0xcc;
  }

  /** Current offset in the section. */
  get offset(): number { return this.buf.length; }

  // ------------------------------------------------------------ symbols

  /** Key of a name: local '.labels' are keyed by their enclosing func. */
  private scoped(name: string): string {
    return name.startsWith('.') ? `${this.curFunc ?? ''}\u0000${name}` : name;
  }

  private define(name: string, kind: AsmSymbol['kind'], size = 0): AsmSymbol {
    if (this.syms.has(name)) throw new EncodeError(`symbol '${name}' defined twice`);
    const s: AsmSymbol = { name, offset: this.buf.length, size, kind };
    this.syms.set(name, s);
    this.symOrder.push(s);
    return s;
  }

  /** A function: global FUNC symbol whose size is the body's length. Local '.labels' inside are scoped to it. */
  func(name: string, body: () => void): void {
    if (this.curFunc !== null) throw new EncodeError(`func '${name}' nested in '${this.curFunc}'`);
    const s = this.define(name, 'func');
    this.curFunc = name;
    try { body(); } finally { this.curFunc = null; }
    s.size = this.buf.length - s.offset;
  }

  /** A label here: '.x' is local to the enclosing func, anything else a global label symbol (size 0). */
  label(name: string): void {
    if (name.startsWith('.')) {
      const k = this.scoped(name);
      if (this.locals.has(k)) throw new EncodeError(`label '${name}' defined twice`);
      this.locals.set(k, this.buf.length);
    } else {
      this.define(name, 'label');
    }
  }

  /** A data object: `size` zero bytes, or the bytes `body` emits (size = bytes emitted). */
  object(name: string, size: number, body?: () => void): void {
    const s = this.define(name, 'object');
    if (body) body();
    else for (let i = 0; i < size; i++) this.buf.push(0);
    s.size = this.buf.length - s.offset;
  }

  /** A symbol's absolute address, for movabs / quad / push imm32. */
  addr(sym: string, addend = 0): AddrRef {
    const local = sym.startsWith('.');
    return Object.freeze({ kind: 'addr', sym: local ? this.scoped(sym) : sym, addend, local });
  }

  /** Pad to a multiple of n with `fill` (default: the section's fill, 0xCC for text). */
  align(n: number, fill = this.fill): void {
    while (this.buf.length % n !== 0) this.buf.push(fill);
  }

  // ------------------------------------------------------------ data

  bytes(data: Uint8Array | readonly number[]): void {
    for (const x of data) this.buf.push(x & 0xff);
  }
  ascii(s: string): void {
    this.bytes(Buffer.from(s, 'utf8'));
  }
  byte(v: number): void { this.dataInt(BigInt(v), 1); }
  word(v: number): void { this.dataInt(BigInt(v), 2); }
  long(v: number | bigint | AddrRef): void {
    if (typeof v === 'object') { this.addFixup(this.buf.length, 'abs32s', v, 'long'); this.dataInt(0n, 4); }
    else this.dataInt(BigInt(v), 4);
  }
  quad(v: number | bigint | AddrRef): void {
    if (typeof v === 'object') { this.addFixup(this.buf.length, 'abs64', v, 'quad'); this.dataInt(0n, 8); }
    else this.dataInt(BigInt(v), 8);
  }
  private dataInt(v: bigint, n: number): void {
    const lim = 1n << BigInt(n * 8);
    if (v < -(lim >> 1n) || v >= lim) throw new EncodeError(`value ${v} does not fit ${n} bytes`);
    let x = BigInt.asUintN(n * 8, v);
    for (let i = 0; i < n; i++) { this.buf.push(Number(x & 0xffn)); x >>= 8n; }
  }

  private addFixup(at: number, kind: Fixup['kind'], ref: AddrRef, where: string): void {
    this.fixups.push({ at, kind, name: ref.sym, local: ref.local === true, addend: ref.addend, where });
  }

  // ------------------------------------------------------------ instructions

  /** Apply the LOCK prefix to the next instruction. */
  lock(): this { this.pendingLock = true; return this; }

  /** Emit one instruction: `mnemonic` is a table mnemonic (see opcodes.ts MNEMONICS). */
  insn(mnemonic: string, ops: readonly Operand[], cond = -1): void {
    const forms = FORMS_BY_MNEMONIC.get(mnemonic);
    if (!forms) throw new EncodeError(`unknown mnemonic '${mnemonic}'`);
    const lock = this.pendingLock;
    this.pendingLock = false;
    let best: Choice | null = null;
    let lastErr: unknown = null;
    for (const f of forms) {
      if (f.ops.length !== ops.length) continue;
      const c = this.match(f, ops, cond, lock);
      if (!c) continue;
      try {
        c.enc = encodeForm(f, c.args);
      } catch (e) {
        lastErr = e;
        continue;
      }
      if (!best || c.enc.bytes.length < best.enc.bytes.length) best = c;
    }
    if (!best) {
      const desc = ops.map(describe).join(', ');
      throw new EncodeError(`no encoding for ${lock ? 'lock ' : ''}${mnemonic} ${desc}` + (lastErr instanceof Error ? ` (${lastErr.message})` : ''));
    }
    const start = this.buf.length;
    const enc = best.enc;
    const len = enc.bytes.length;
    for (const x of enc.bytes) this.buf.push(x);
    if (best.memSym !== null) {
      this.fixups.push({
        at: start + enc.dispAt, kind: 'rel32', name: this.scoped(best.memSym), local: best.memSym.startsWith('.'),
        addend: (best.args.mem?.disp ?? 0) - (len - enc.dispAt), where: mnemonic,
      });
    }
    if (best.immRef !== null) {
      const k = best.form.ops.includes('imm64') ? 'abs64' : 'abs32s';
      this.addFixup(start + enc.immAt, k, best.immRef, mnemonic);
    }
    if (best.relTarget !== null && this.offsetOf(best.relTarget) === undefined) {
      this.fixups.push({
        at: start + enc.relAt, kind: 'rel32', name: this.scoped(best.relTarget), local: best.relTarget.startsWith('.'),
        addend: -(len - enc.relAt), where: mnemonic,
      });
    }
  }

  /** Offset of a label/symbol already defined in this section (name as written). */
  private offsetOf(name: string): number | undefined {
    if (name.startsWith('.')) return this.locals.get(this.scoped(name));
    return this.syms.get(name)?.offset;
  }

  private match(f: Form, ops: readonly Operand[], cond: number, lock: boolean): Choice | null {
    const args: EncodeArgs = { lock, cond };
    let memSym: string | null = null;
    let immRef: AddrRef | null = null;
    let relTarget: string | null = null;
    const S = f.size;
    for (let i = 0; i < f.ops.length; i++) {
      const k = f.ops[i]!;
      const o = ops[i]!;
      switch (k) {
        case 'r': case 'o':
          if (!isReg(o) || o.size !== S) return null;
          args.reg = o.n;
          break;
        case 'acc':
          if (!isReg(o) || o.size !== S || o.n !== 0) return null;
          break;
        case 'cl':
          if (!isReg(o) || o.size !== 1 || o.n !== 1) return null;
          break;
        case 'rr':
          if (!isReg(o) || o.size !== 8) return null;
          args.rm = o.n;
          break;
        case 'cr': case 'dr':
          if (typeof o !== 'object' || o.kind !== k) return null;
          args.reg = o.n;
          break;
        case 'rm': case 'm': case 'rm8': case 'rm16': case 'rm32': {
          const want = k === 'rm' ? S : k === 'rm8' ? 1 : k === 'rm16' ? 2 : k === 'rm32' ? 4 : 0;
          if (isReg(o)) {
            if (k === 'm' || o.size !== want) return null;
            args.rm = o.n;
          } else if (isMem(o)) {
            if (k !== 'm' && o.size !== want) return null;
            args.mem = toMemOperand(o);
            if (o.sym !== null) memSym = o.sym;
          } else return null;
          break;
        }
        case 'one':
          if (!(o === 1 || o === 1n)) return null;
          break;
        case 'uimm8':
          if (!isNum(o)) return null;
          if (BigInt(o) < 0n || BigInt(o) > 255n) return null;
          args.imm = BigInt(o);
          break;
        case 'imm8': case 'imm16': case 'imm32': case 'imm64': {
          if (isAddr(o)) {
            if (k === 'imm64' || (k === 'imm32' && S === 8)) { immRef = o; args.imm = 0n; break; }
            return null;
          }
          if (!isNum(o)) return null;
          const v = BigInt(o);
          const bits = BigInt(S * 8);
          if (v < -(1n << (bits - 1n)) || v >= 1n << bits) return null;
          const s = BigInt.asIntN(S * 8, v);
          const ib = k === 'imm8' ? 8n : k === 'imm16' ? 16n : k === 'imm32' ? 32n : 64n;
          if (s < -(1n << (ib - 1n)) || s >= 1n << (ib - 1n)) return null;
          args.imm = s;
          break;
        }
        case 'rel8': case 'rel32': {
          if (typeof o !== 'string') return null;
          relTarget = o;
          const t = this.offsetOf(o);
          if (t === undefined) {
            if (k === 'rel8') return null;
            args.rel = 0;
          } else {
            // known (backward) target: displacement from the end of this instruction
            const len = f.map + 1 + (k === 'rel8' ? 1 : 4);
            const r = t - (this.buf.length + len);
            if (k === 'rel8' && (r < -128 || r > 127)) return null;
            args.rel = r;
          }
          break;
        }
      }
    }
    return { form: f, args, enc: null as unknown as Encoded, memSym, immRef, relTarget };
  }

  // Each DSL method below is a thin wrapper over insn().
  mov(dst: Operand, src: Operand): void {
    if (isSpecial(dst)) return this.insn(dst.kind === 'cr' ? 'mov_to_cr' : 'mov_to_dr', [dst, src]);
    if (isSpecial(src)) return this.insn(src.kind === 'cr' ? 'mov_from_cr' : 'mov_from_dr', [dst, src]);
    if (isReg(dst) && isAddr(src)) {
      // movabs reg, imm64 with an abs64 relocation (contract)
      if (dst.size !== 8) throw new EncodeError('an address needs a 64-bit register');
      this.insn('mov', [dst, 0x7fffffffffffffffn]); // only the imm64 form accepts this value
      const at = this.buf.length - 8;
      for (let i = 0; i < 8; i++) this.buf[at + i] = 0;
      this.addFixup(at, 'abs64', src, 'movabs');
      return;
    }
    this.insn('mov', [dst, src]);
  }
  movzx(dst: Reg, src: Reg | Mem): void { this.insn('movzx', [dst, src]); }
  movsx(dst: Reg, src: Reg | Mem): void { this.insn('movsx', [dst, src]); }
  movsxd(dst: Reg, src: Reg | Mem): void { this.insn('movsxd', [dst, src]); }
  lea(dst: Reg, src: Mem): void { this.insn('lea', [dst, src]); }
  add(dst: Operand, src: Operand): void { this.insn('add', [dst, src]); }
  or(dst: Operand, src: Operand): void { this.insn('or', [dst, src]); }
  adc(dst: Operand, src: Operand): void { this.insn('adc', [dst, src]); }
  sbb(dst: Operand, src: Operand): void { this.insn('sbb', [dst, src]); }
  and(dst: Operand, src: Operand): void { this.insn('and', [dst, src]); }
  sub(dst: Operand, src: Operand): void { this.insn('sub', [dst, src]); }
  xor(dst: Operand, src: Operand): void { this.insn('xor', [dst, src]); }
  cmp(dst: Operand, src: Operand): void { this.insn('cmp', [dst, src]); }
  test(a: Operand, b: Operand): void {
    // TEST is commutative: test(reg, mem) is encoded as test mem, reg
    if (isReg(a) && isMem(b)) this.insn('test', [b, a]);
    else this.insn('test', [a, b]);
  }
  inc(x: Reg | Mem): void { this.insn('inc', [x]); }
  dec(x: Reg | Mem): void { this.insn('dec', [x]); }
  neg(x: Reg | Mem): void { this.insn('neg', [x]); }
  not(x: Reg | Mem): void { this.insn('not', [x]); }
  shl(x: Reg | Mem, count: Reg | number): void { this.insn('shl', [x, count]); }
  shr(x: Reg | Mem, count: Reg | number): void { this.insn('shr', [x, count]); }
  sar(x: Reg | Mem, count: Reg | number): void { this.insn('sar', [x, count]); }
  rol(x: Reg | Mem, count: Reg | number): void { this.insn('rol', [x, count]); }
  ror(x: Reg | Mem, count: Reg | number): void { this.insn('ror', [x, count]); }
  /** imul(rm) (rdx:rax = rax * rm), imul(r, rm), imul(r, imm), imul(r, rm, imm). */
  imul(a: Reg | Mem, b?: Operand, c?: Operand): void {
    if (b === undefined) this.insn('imul', [a]);
    else if (c === undefined) {
      if (isNum(b)) this.insn('imul', [a, a, b]);
      else this.insn('imul', [a, b]);
    } else this.insn('imul', [a, b, c]);
  }
  mul(x: Reg | Mem): void { this.insn('mul', [x]); }
  div(x: Reg | Mem): void { this.insn('div', [x]); }
  idiv(x: Reg | Mem): void { this.insn('idiv', [x]); }
  xchg(a: Reg | Mem, b: Reg | Mem): void {
    if (isReg(a) && isMem(b)) return this.insn('xchg', [b, a]);
    if (isReg(a) && isReg(b) && a.size > 1 && a.size === b.size && (a.n === 0 || b.n === 0) && a.n !== b.n) {
      // 90+r short form (as GNU as does); xchg eax,eax stays 87 C0 (90 is nop)
      return this.insn('xchg', a.n === 0 ? [b, a] : [a, b]);
    }
    this.insn('xchg', [a, b]);
  }
  xadd(dst: Reg | Mem, src: Reg): void { this.insn('xadd', [dst, src]); }
  cmpxchg(dst: Reg | Mem, src: Reg): void { this.insn('cmpxchg', [dst, src]); }
  push(x: Reg | Mem | Imm): void { this.insn('push', [x]); }
  pop(x: Reg | Mem): void { this.insn('pop', [x]); }
  pushfq(): void { this.insn('pushfq', []); }
  popfq(): void { this.insn('popfq', []); }
  /** jmp label | reg | mem */
  jmp(t: string | Reg | Mem): void { this.insn('jmp', [t]); }
  /** jcc: a.j('ne', '.loop') */
  j(cc: string, t: string): void { this.insn('jcc', [t], condCode(cc)); }
  /** setcc: a.set('e', al) */
  set(cc: string, x: Reg | Mem): void { this.insn('setcc', [x], condCode(cc)); }
  /** cmovcc: a.cmov('ne', rax, rbx) */
  cmov(cc: string, dst: Reg, src: Reg | Mem): void { this.insn('cmovcc', [dst, src], condCode(cc)); }
  call(t: string | Reg | Mem): void { this.insn('call', [t]); }
  ret(): void { this.insn('ret', []); }
  leave(): void { this.insn('leave', []); }
  /** nop (90), or the multi-byte nop with a memory operand: a.nop(dword(rax, 0)). */
  nop(x?: Mem | Reg): void { this.insn('nop', x === undefined ? [] : [x]); }
  pause(): void { this.insn('pause', []); }
  hlt(): void { this.insn('hlt', []); }
  cli(): void { this.insn('cli', []); }
  sti(): void { this.insn('sti', []); }
  iretq(): void { this.insn('iretq', []); }
  int3(): void { this.insn('int3', []); }
  ud2(): void { this.insn('ud2', []); }
  rdtsc(): void { this.insn('rdtsc', []); }
  rdmsr(): void { this.insn('rdmsr', []); }
  wrmsr(): void { this.insn('wrmsr', []); }
  swapgs(): void { this.insn('swapgs', []); }
  lidt(m: Mem): void { this.insn('lidt', [m]); }
  cqo(): void { this.insn('cqo', []); }
  cdqe(): void { this.insn('cdqe', []); }
  cdq(): void { this.insn('cdq', []); }

  // ------------------------------------------------------------ finish

  /** Resolve same-section references and return the section. Call once. */
  finish(): AsmOutput {
    if (this.finished) throw new EncodeError('finish() called twice');
    if (this.curFunc !== null) throw new EncodeError('finish() inside func');
    this.finished = true;
    const bytes = Uint8Array.from(this.buf);
    const dv = new DataView(bytes.buffer);
    const relocs: AsmReloc[] = [];
    for (const fx of this.fixups) {
      const shown = fx.local ? fx.name.slice(fx.name.indexOf('\u0000') + 1) : fx.name;
      const t = fx.local ? this.locals.get(fx.name) : this.syms.get(fx.name)?.offset;
      if (fx.local && t === undefined) throw new EncodeError(`undefined local label '${shown}' (${fx.where})`);
      if (fx.kind === 'rel32') {
        if (t === undefined) relocs.push({ offset: fx.at, kind: 'rel32', sym: fx.name, addend: fx.addend });
        else {
          const v = t + fx.addend - fx.at;
          if (v !== (v | 0)) throw new EncodeError(`rel32 out of range to '${shown}'`);
          dv.setInt32(fx.at, v, true);
        }
        continue;
      }
      // absolute: the section base is unknown here; a local label becomes owner symbol + offset
      let sym = fx.name;
      let addend = fx.addend;
      if (fx.local) {
        const owner = this.ownerOf(t!);
        if (!owner) throw new EncodeError(`local label '${shown}' is outside any symbol`);
        sym = owner.name;
        addend += t! - owner.offset;
      }
      relocs.push({ offset: fx.at, kind: fx.kind, sym, addend });
    }
    return { bytes, symbols: this.symOrder.map((s) => ({ ...s })), relocs };
  }

  private ownerOf(off: number): AsmSymbol | undefined {
    let best: AsmSymbol | undefined;
    for (const s of this.symOrder) {
      if (s.kind === 'label') continue;
      if (s.offset <= off && off <= s.offset + s.size && (!best || s.offset >= best.offset)) best = s;
    }
    return best;
  }
}

function isReg(o: Operand): o is Reg {
  return typeof o === 'object' && o !== null && (o as { kind: string }).kind === 'reg' && (o as Reg).n >= 0;
}
function isMem(o: Operand): o is Mem {
  return typeof o === 'object' && o !== null && (o as { kind: string }).kind === 'mem';
}
function isAddr(o: Operand): o is AddrRef {
  return typeof o === 'object' && o !== null && (o as { kind: string }).kind === 'addr';
}
function isSpecial(o: Operand): o is SpecialReg {
  return typeof o === 'object' && o !== null && ((o as { kind: string }).kind === 'cr' || (o as { kind: string }).kind === 'dr');
}
function isNum(o: Operand): o is number | bigint {
  return (typeof o === 'number' && Number.isInteger(o)) || typeof o === 'bigint';
}

function toMemOperand(m: Mem): MemOperand {
  return {
    base: m.base ? m.base.n : NOREG,
    index: m.index ? m.index.n : NOREG,
    scale: m.scale,
    disp: m.disp,
    ripRel: m.sym !== null || m.rip,
    seg: m.seg,
  };
}

function describe(o: Operand): string {
  if (typeof o === 'string') return o;
  if (typeof o === 'number' || typeof o === 'bigint') return String(o);
  if (o.kind === 'mem') return `${['', 'byte', 'word', '', 'dword', '', '', '', 'qword'][o.size]}[...]`;
  if (o.kind === 'addr') return `addr(${o.sym})`;
  return o.name;
}
