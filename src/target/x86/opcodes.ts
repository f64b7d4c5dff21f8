// THE opcode table of the x86-64 subset (docs/isa.md). One table drives the
// decoder (decoder.ts), the assembler (src/kernel/asm.ts) and the encoding
// tests (test/isa/). Every entry (a "form") has exactly one operand size; a
// form's index in FORMS is its stable `formId`.
//
// Operand kinds (Intel order, destination first) and where the decoder puts them in Instr:
//   'r'     general register of the form's size, ModRM.reg              -> Instr.reg
//   'rm'    register or memory of the form's size, ModRM.rm             -> Instr.rm | Instr.mem
//   'm'     memory only (lea), ModRM.rm with mod != 3                   -> Instr.mem
//   'rm8' 'rm16' 'rm32'  source of movzx/movsx/movsxd (fixed size)      -> Instr.rm | Instr.mem
//   'o'     general register of the form's size in the opcode low bits  -> Instr.reg
//   'acc'   AL/AX/EAX/RAX implicit                                      -> Instr.rm = RAX (mem null)
//   'imm8' 'imm16' 'imm32' 'imm64'  immediate, SIGN-extended to 64 bits -> Instr.immLo/immHi
//   'uimm8' immediate byte, zero-extended (shift counts)                -> Instr.immLo (immHi 0)
//   'one'   the constant 1 of D0/D1 shifts                              -> Instr.immLo = 1
//   'cl'    register CL (shift count)
//   'rel8' 'rel32'  relative branch                                     -> Instr.target (absolute)
//   'cr' 'dr'  control/debug register number, ModRM.reg                 -> Instr.reg
//   'rr'    64-bit general register in ModRM.rm, mod ignored (CR/DR moves) -> Instr.rm
//
// 8-bit registers: without any REX prefix, numbers 4-7 of a byte operand are
// AH/CH/DH/BH = 16-19 (instr.ts); with a REX prefix they are SPL/BPL/SIL/DIL = 4-7.

import type { OpSize } from './instr.js';

export type OpKind =
  | 'r' | 'rm' | 'm' | 'rm8' | 'rm16' | 'rm32' | 'o' | 'acc'
  | 'imm8' | 'uimm8' | 'imm16' | 'imm32' | 'imm64' | 'one' | 'cl'
  | 'rel8' | 'rel32' | 'cr' | 'dr' | 'rr';

/**
 * How the operand size of a form is selected:
 *  'v'   by prefixes: none = 32, 66 = 16, REX.W = 64 (each size is its own form)
 *  'b'   byte operation (66 is #UD here, REX.W ignored)
 *  'd64' default 64-bit in long mode (push/pop/call/jmp/leave/pushfq/popfq; 66 is #UD here, REX.W ignored)
 *  'n'   no operand size (hlt, jcc, setcc, ...; 66 is #UD here, REX.W ignored)
 */
export type OszKind = 'v' | 'b' | 'd64' | 'n';

export interface Form {
  readonly id: number;
  /** Semantic name, the key of the semantics compiler (see MNEMONICS). */
  readonly mnemonic: string;
  readonly ops: readonly OpKind[];
  /** Operand size (destination size for movzx/movsx/movsxd). */
  readonly size: OpSize;
  readonly osz: OszKind;
  /** REX.W required (and emitted). */
  readonly w: boolean;
  /** 0: one-byte opcode map, 1: 0F map. */
  readonly map: 0 | 1;
  /** Opcode byte in its map (the base value for +r and +cc forms). */
  readonly opcode: number;
  /** Has a ModRM byte. */
  readonly modrm: boolean;
  /** ModRM.reg opcode extension /0-/7, or -1 (/r or no ModRM). */
  readonly ext: number;
  /** The whole ModRM byte is fixed (swapgs = 0F 01 F8), else -1. */
  readonly modrmFixed: number;
  /** Register in the opcode low 3 bits (+r, 8 opcodes). */
  readonly plusR: boolean;
  /** Condition code in the opcode low 4 bits (+cc, 16 opcodes); Instr.cond. */
  readonly cc: boolean;
  /** Mandatory prefix (pause = F3 90), else 0. */
  readonly prefix: 0 | 0xf3;
  /** LOCK prefix legal (only with a memory destination). */
  readonly lock: boolean;
  /** Default operand size is 64 (push/pop/call/jmp near/leave/pushfq/popfq). */
  readonly d64: boolean;
  /** Human-readable encoding, Intel manual style: "REX.W 83 /0 ib". */
  readonly encoding: string;
}

interface Spec {
  mn: string | ((size: OpSize) => string);
  ops: readonly (OpKind | 'iz')[]; // 'iz': imm16 for 16-bit forms, imm32 otherwise (imm8 for byte forms)
  sizes: readonly OpSize[];
  osz?: OszKind; // default: 'b' when sizes == [1] else 'v'
  map?: 0 | 1;
  op: number;
  ext?: number; // /digit
  r?: boolean; // /r
  fixed?: number;
  plusR?: boolean;
  cc?: boolean;
  prefix?: 0 | 0xf3;
  lock?: boolean;
  /** Size-8 'o' form uses imm64 (movabs). */
  imm64?: boolean;
}

const FORMS_: Form[] = [];

function hex(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

function add(s: Spec): void {
  for (const size of s.sizes) {
    const osz: OszKind = s.osz ?? (s.sizes.length === 1 && s.sizes[0] === 1 ? 'b' : 'v');
    const ops: OpKind[] = s.ops.map((k) => {
      if (k !== 'iz') return k;
      if (size === 1) return 'imm8';
      if (size === 2) return 'imm16';
      if (size === 8 && s.imm64) return 'imm64';
      return 'imm32';
    });
    const w = osz === 'v' && size === 8;
    const map = s.map ?? 0;
    const modrm = s.ext !== undefined || s.r === true || s.fixed !== undefined;
    let enc = '';
    if (s.prefix) enc += hex(s.prefix) + ' ';
    if (osz === 'v' && size === 2) enc += '66 ';
    if (w) enc += 'REX.W ';
    if (map === 1) enc += '0F ';
    enc += hex(s.op);
    if (s.plusR) enc += '+r';
    if (s.cc) enc += '+cc';
    if (s.fixed !== undefined) enc += ' ' + hex(s.fixed);
    else if (s.ext !== undefined) enc += ' /' + s.ext;
    else if (s.r) enc += ' /r';
    for (const k of ops) {
      if (k === 'imm8' || k === 'uimm8') enc += ' ib';
      else if (k === 'imm16') enc += ' iw';
      else if (k === 'imm32') enc += ' id';
      else if (k === 'imm64') enc += ' io';
      else if (k === 'rel8') enc += ' cb';
      else if (k === 'rel32') enc += ' cd';
    }
    FORMS_.push({
      id: FORMS_.length,
      mnemonic: typeof s.mn === 'string' ? s.mn : s.mn(size),
      ops,
      size,
      osz,
      w,
      map,
      opcode: s.op,
      modrm,
      ext: s.ext ?? -1,
      modrmFixed: s.fixed ?? -1,
      plusR: s.plusR ?? false,
      cc: s.cc ?? false,
      prefix: s.prefix ?? 0,
      lock: s.lock ?? false,
      d64: osz === 'd64',
      encoding: enc,
    });
  }
}

const V: readonly OpSize[] = [2, 4, 8];
const B: readonly OpSize[] = [1];
const Q: readonly OpSize[] = [8];

// ---- mov ----
add({ mn: 'mov', ops: ['rm', 'r'], sizes: B, op: 0x88, r: true });
add({ mn: 'mov', ops: ['rm', 'r'], sizes: V, op: 0x89, r: true });
add({ mn: 'mov', ops: ['r', 'rm'], sizes: B, op: 0x8a, r: true });
add({ mn: 'mov', ops: ['r', 'rm'], sizes: V, op: 0x8b, r: true });
add({ mn: 'mov', ops: ['o', 'iz'], sizes: B, op: 0xb0, plusR: true });
add({ mn: 'mov', ops: ['o', 'iz'], sizes: V, op: 0xb8, plusR: true, imm64: true }); // REX.W B8+r io = movabs
add({ mn: 'mov', ops: ['rm', 'iz'], sizes: B, op: 0xc6, ext: 0 });
add({ mn: 'mov', ops: ['rm', 'iz'], sizes: V, op: 0xc7, ext: 0 });
add({ mn: 'movzx', ops: ['r', 'rm8'], sizes: V, map: 1, op: 0xb6, r: true });
add({ mn: 'movzx', ops: ['r', 'rm16'], sizes: [4, 8], map: 1, op: 0xb7, r: true });
add({ mn: 'movsx', ops: ['r', 'rm8'], sizes: V, map: 1, op: 0xbe, r: true });
add({ mn: 'movsx', ops: ['r', 'rm16'], sizes: [4, 8], map: 1, op: 0xbf, r: true });
add({ mn: 'movsxd', ops: ['r', 'rm32'], sizes: Q, op: 0x63, r: true });
add({ mn: 'lea', ops: ['r', 'm'], sizes: V, op: 0x8d, r: true });

// ---- ALU: add or adc sbb and sub xor cmp ----
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
for (let k = 0; k < 8; k++) {
  const mn = ALU[k]!;
  const lk = mn !== 'cmp';
  add({ mn, ops: ['rm', 'r'], sizes: B, op: 8 * k + 0, r: true, lock: lk });
  add({ mn, ops: ['rm', 'r'], sizes: V, op: 8 * k + 1, r: true, lock: lk });
  add({ mn, ops: ['r', 'rm'], sizes: B, op: 8 * k + 2, r: true });
  add({ mn, ops: ['r', 'rm'], sizes: V, op: 8 * k + 3, r: true });
  add({ mn, ops: ['acc', 'iz'], sizes: B, op: 8 * k + 4 });
  add({ mn, ops: ['acc', 'iz'], sizes: V, op: 8 * k + 5 });
  add({ mn, ops: ['rm', 'iz'], sizes: B, op: 0x80, ext: k, lock: lk });
  add({ mn, ops: ['rm', 'iz'], sizes: V, op: 0x81, ext: k, lock: lk });
  add({ mn, ops: ['rm', 'imm8'], sizes: V, op: 0x83, ext: k, lock: lk });
}

// ---- test ----
add({ mn: 'test', ops: ['rm', 'r'], sizes: B, op: 0x84, r: true });
add({ mn: 'test', ops: ['rm', 'r'], sizes: V, op: 0x85, r: true });
add({ mn: 'test', ops: ['acc', 'iz'], sizes: B, op: 0xa8 });
add({ mn: 'test', ops: ['acc', 'iz'], sizes: V, op: 0xa9 });
add({ mn: 'test', ops: ['rm', 'iz'], sizes: B, op: 0xf6, ext: 0 });
add({ mn: 'test', ops: ['rm', 'iz'], sizes: V, op: 0xf7, ext: 0 });

// ---- inc dec not neg ----
add({ mn: 'inc', ops: ['rm'], sizes: B, op: 0xfe, ext: 0, lock: true });
add({ mn: 'inc', ops: ['rm'], sizes: V, op: 0xff, ext: 0, lock: true });
add({ mn: 'dec', ops: ['rm'], sizes: B, op: 0xfe, ext: 1, lock: true });
add({ mn: 'dec', ops: ['rm'], sizes: V, op: 0xff, ext: 1, lock: true });
add({ mn: 'not', ops: ['rm'], sizes: B, op: 0xf6, ext: 2, lock: true });
add({ mn: 'not', ops: ['rm'], sizes: V, op: 0xf7, ext: 2, lock: true });
add({ mn: 'neg', ops: ['rm'], sizes: B, op: 0xf6, ext: 3, lock: true });
add({ mn: 'neg', ops: ['rm'], sizes: V, op: 0xf7, ext: 3, lock: true });

// ---- mul imul div idiv ----
add({ mn: 'mul', ops: ['rm'], sizes: V, op: 0xf7, ext: 4 });
add({ mn: 'imul', ops: ['rm'], sizes: V, op: 0xf7, ext: 5 });
add({ mn: 'div', ops: ['rm'], sizes: V, op: 0xf7, ext: 6 });
add({ mn: 'idiv', ops: ['rm'], sizes: V, op: 0xf7, ext: 7 });
add({ mn: 'imul', ops: ['r', 'rm'], sizes: V, map: 1, op: 0xaf, r: true });
add({ mn: 'imul', ops: ['r', 'rm', 'imm8'], sizes: V, op: 0x6b, r: true });
add({ mn: 'imul', ops: ['r', 'rm', 'iz'], sizes: V, op: 0x69, r: true });

// ---- shifts and rotates ----
const SH: [string, number][] = [['rol', 0], ['ror', 1], ['shl', 4], ['shr', 5], ['sar', 7]];
for (const [mn, ext] of SH) {
  add({ mn, ops: ['rm', 'one'], sizes: B, op: 0xd0, ext });
  add({ mn, ops: ['rm', 'one'], sizes: V, op: 0xd1, ext });
  add({ mn, ops: ['rm', 'cl'], sizes: B, op: 0xd2, ext });
  add({ mn, ops: ['rm', 'cl'], sizes: V, op: 0xd3, ext });
  add({ mn, ops: ['rm', 'uimm8'], sizes: B, op: 0xc0, ext });
  add({ mn, ops: ['rm', 'uimm8'], sizes: V, op: 0xc1, ext });
}

// ---- sign extension of rAX ----
add({ mn: 'cdq', ops: [], sizes: [4], op: 0x99 });
add({ mn: 'cqo', ops: [], sizes: Q, op: 0x99 });
add({ mn: 'cdqe', ops: [], sizes: Q, op: 0x98 });

// ---- exchange and atomics ----
add({ mn: 'xchg', ops: ['rm', 'r'], sizes: B, op: 0x86, r: true, lock: true });
add({ mn: 'xchg', ops: ['rm', 'r'], sizes: V, op: 0x87, r: true, lock: true });
add({ mn: 'xchg', ops: ['o', 'acc'], sizes: V, op: 0x90, plusR: true }); // 90+r with r != 0 (90 is nop)
add({ mn: 'xadd', ops: ['rm', 'r'], sizes: B, map: 1, op: 0xc0, r: true, lock: true });
add({ mn: 'xadd', ops: ['rm', 'r'], sizes: V, map: 1, op: 0xc1, r: true, lock: true });
add({ mn: 'cmpxchg', ops: ['rm', 'r'], sizes: B, map: 1, op: 0xb0, r: true, lock: true });
add({ mn: 'cmpxchg', ops: ['rm', 'r'], sizes: V, map: 1, op: 0xb1, r: true, lock: true });

// ---- conditionals ----
add({ mn: 'setcc', ops: ['rm'], sizes: B, map: 1, op: 0x90, ext: 0, cc: true });
add({ mn: 'cmovcc', ops: ['r', 'rm'], sizes: V, map: 1, op: 0x40, r: true, cc: true });
add({ mn: 'jcc', ops: ['rel8'], sizes: Q, osz: 'n', op: 0x70, cc: true });
add({ mn: 'jcc', ops: ['rel32'], sizes: Q, osz: 'n', map: 1, op: 0x80, cc: true });

// ---- stack, control transfer ----
add({ mn: 'push', ops: ['o'], sizes: Q, osz: 'd64', op: 0x50, plusR: true });
add({ mn: 'push', ops: ['imm8'], sizes: Q, osz: 'd64', op: 0x6a });
add({ mn: 'push', ops: ['imm32'], sizes: Q, osz: 'd64', op: 0x68 });
add({ mn: 'push', ops: ['rm'], sizes: Q, osz: 'd64', op: 0xff, ext: 6 });
add({ mn: 'pop', ops: ['o'], sizes: Q, osz: 'd64', op: 0x58, plusR: true });
add({ mn: 'pop', ops: ['rm'], sizes: Q, osz: 'd64', op: 0x8f, ext: 0 });
add({ mn: 'pushfq', ops: [], sizes: Q, osz: 'd64', op: 0x9c });
add({ mn: 'popfq', ops: [], sizes: Q, osz: 'd64', op: 0x9d });
add({ mn: 'jmp', ops: ['rel8'], sizes: Q, osz: 'd64', op: 0xeb });
add({ mn: 'jmp', ops: ['rel32'], sizes: Q, osz: 'd64', op: 0xe9 });
add({ mn: 'jmp', ops: ['rm'], sizes: Q, osz: 'd64', op: 0xff, ext: 4 });
add({ mn: 'call', ops: ['rel32'], sizes: Q, osz: 'd64', op: 0xe8 });
add({ mn: 'call', ops: ['rm'], sizes: Q, osz: 'd64', op: 0xff, ext: 2 });
add({ mn: 'ret', ops: [], sizes: Q, osz: 'd64', op: 0xc3 });
add({ mn: 'leave', ops: [], sizes: Q, osz: 'd64', op: 0xc9 });
add({ mn: 'iretq', ops: [], sizes: Q, op: 0xcf }); // REX.W CF

// ---- misc / system ----
add({ mn: 'nop', ops: [], sizes: Q, osz: 'n', op: 0x90 });
add({ mn: 'pause', ops: [], sizes: Q, osz: 'n', op: 0x90, prefix: 0xf3 });
add({ mn: 'nop', ops: ['rm'], sizes: V, map: 1, op: 0x1f, ext: 0 });
add({ mn: 'hlt', ops: [], sizes: Q, osz: 'n', op: 0xf4 });
add({ mn: 'cli', ops: [], sizes: Q, osz: 'n', op: 0xfa });
add({ mn: 'sti', ops: [], sizes: Q, osz: 'n', op: 0xfb });
add({ mn: 'int3', ops: [], sizes: Q, osz: 'n', op: 0xcc });
add({ mn: 'ud2', ops: [], sizes: Q, osz: 'n', map: 1, op: 0x0b });
add({ mn: 'wrmsr', ops: [], sizes: Q, osz: 'n', map: 1, op: 0x30 });
add({ mn: 'rdtsc', ops: [], sizes: Q, osz: 'n', map: 1, op: 0x31 });
add({ mn: 'rdmsr', ops: [], sizes: Q, osz: 'n', map: 1, op: 0x32 });
add({ mn: 'swapgs', ops: [], sizes: Q, osz: 'n', map: 1, op: 0x01, fixed: 0xf8 });
add({ mn: 'mov_from_cr', ops: ['rr', 'cr'], sizes: Q, osz: 'n', map: 1, op: 0x20, r: true });
add({ mn: 'mov_from_dr', ops: ['rr', 'dr'], sizes: Q, osz: 'n', map: 1, op: 0x21, r: true });
add({ mn: 'mov_to_cr', ops: ['cr', 'rr'], sizes: Q, osz: 'n', map: 1, op: 0x22, r: true });
add({ mn: 'mov_to_dr', ops: ['dr', 'rr'], sizes: Q, osz: 'n', map: 1, op: 0x23, r: true });
// lidt m16&64: load the IDT register (limit16, base64) from memory.
add({ mn: 'lidt', ops: ['m'], sizes: Q, osz: 'n', map: 1, op: 0x01, ext: 3 });

/** The opcode table; FORMS[formId]. */
export const FORMS: readonly Form[] = FORMS_;

/** Every semantic mnemonic the decoder can produce. */
export const MNEMONICS: readonly string[] = [...new Set(FORMS_.map((f) => f.mnemonic))];

/** Forms by mnemonic, in table order. */
export const FORMS_BY_MNEMONIC: ReadonlyMap<string, readonly Form[]> = (() => {
  const m = new Map<string, Form[]>();
  for (const f of FORMS_) {
    let l = m.get(f.mnemonic);
    if (!l) m.set(f.mnemonic, (l = []));
    l.push(f);
  }
  return m;
})();

/** Control registers the machine implements (mov to/from CRn with other n is #UD). */
export const VALID_CR: readonly number[] = [0, 2, 3, 4];
/** Debug registers the machine implements. */
export const VALID_DR: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7];

/** Bytes of an immediate operand kind (0 for non-immediates). */
export function immBytes(k: OpKind): number {
  switch (k) {
    case 'imm8': case 'uimm8': case 'rel8': return 1;
    case 'imm16': return 2;
    case 'imm32': case 'rel32': return 4;
    case 'imm64': return 8;
    default: return 0;
  }
}

/** Does the form take a ModRM memory operand (or register in its place)? */
export function hasRm(f: Form): boolean {
  return f.ops.some((k) => k === 'rm' || k === 'm' || k === 'rm8' || k === 'rm16' || k === 'rm32');
}

/** One line per form for docs/isa.md: "formId mnemonic operands encoding". */
export function formLine(f: Form): string {
  const ops = f.ops.map((k) => opKindText(k, f.size)).join(', ');
  const lockTxt = f.lock ? ' (LOCK ok)' : '';
  return `| ${f.id} | \`${f.mnemonic}\` | ${ops || '—'} | \`${f.encoding}\` | ${f.size * 8}${f.d64 ? ' (default 64)' : ''}${lockTxt} |`;
}

function opKindText(k: OpKind, size: OpSize): string {
  const b = size * 8;
  switch (k) {
    case 'r': return `r${b}`;
    case 'rm': return `r/m${b}`;
    case 'm': return 'm';
    case 'rm8': return 'r/m8';
    case 'rm16': return 'r/m16';
    case 'rm32': return 'r/m32';
    case 'o': return `r${b} (+r)`;
    case 'acc': return ['', 'AL', 'AX', '', 'EAX', '', '', '', 'RAX'][size]!;
    case 'imm8': return 'imm8';
    case 'uimm8': return 'imm8 (unsigned)';
    case 'imm16': return 'imm16';
    case 'imm32': return size === 8 ? 'imm32 (sign-extended)' : 'imm32';
    case 'imm64': return 'imm64';
    case 'one': return '1';
    case 'cl': return 'CL';
    case 'rel8': return 'rel8';
    case 'rel32': return 'rel32';
    case 'cr': return 'CR0/2/3/4';
    case 'dr': return 'DR0-7';
    case 'rr': return 'r64';
  }
}
