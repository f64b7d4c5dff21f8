// x86-64 decoder for the subset in opcodes.ts (docs/isa.md). Produces the
// Instr of instr.ts, or 'ud' when the bytes at `addr` are not an instruction of
// the table (unknown opcode, LOCK/prefix not legal for the form, longer than 15
// bytes). fetch8 may throw (page fault): the exception propagates.
//
// RIP-relative operands are NOT pre-resolved: mem.ripRel = true and mem.disp is
// the raw signed displacement; the effective address is `next + disp`.
// Branch targets ARE resolved: Instr.target = next + rel (signed canonical).

import { FORMS, VALID_CR, VALID_DR, type Form } from './opcodes.js';
import {
  CC_NAMES, NOREG, SEG_FS, SEG_GS, SEG_NONE, type Instr, type MemOperand, type Seg,
} from './instr.js';

/** Candidate forms per opcode: index = map * 256 + byte. */
const INDEX: (Form[] | undefined)[] = new Array(512);
for (const f of FORMS) {
  const n = f.plusR ? 8 : f.cc ? 16 : 1;
  for (let i = 0; i < n; i++) {
    const k = f.map * 256 + f.opcode + i;
    (INDEX[k] ??= []).push(f);
  }
}

const NOP = FORMS.find((f) => f.mnemonic === 'nop' && f.ops.length === 0)!;
const PAUSE = FORMS.find((f) => f.mnemonic === 'pause')!;

const SCALES = [1, 2, 4, 8] as const;

/** Decode the instruction at addr. */
export function decode(fetch8: (addr: number) => number, addr: number): Instr | 'ud' {
  let p = addr;
  let p66 = false, lock = false;
  let rep: 0 | 1 | 2 = 0;
  let seg: Seg = SEG_NONE;
  let b = fetch8(p);
  // legacy prefixes, any order
  for (;;) {
    if (b === 0x66) p66 = true;
    else if (b === 0xf3) rep = 1;
    else if (b === 0xf2) rep = 2;
    else if (b === 0xf0) lock = true;
    else if (b === 0x65) seg = SEG_GS;
    else if (b === 0x64) seg = SEG_FS;
    else break;
    p++;
    if (p - addr >= 15) return 'ud';
    b = fetch8(p);
  }
  let rex = 0;
  if ((b & 0xf0) === 0x40) {
    rex = b;
    p++;
    if (p - addr >= 15) return 'ud';
    b = fetch8(p);
    if ((b & 0xf0) === 0x40) return 'ud'; // REX must be last and single
  }
  let map = 0;
  if (b === 0x0f) {
    map = 1;
    p++;
    if (p - addr >= 15) return 'ud';
    b = fetch8(p);
  }
  p++; // past the opcode byte
  const cands = INDEX[map * 256 + b];
  if (cands === undefined) return 'ud';
  const rexW = (rex & 8) !== 0;
  const osz = rexW ? 8 : p66 ? 2 : 4;

  let modrm = -1;
  if (cands[0]!.modrm) {
    if (p - addr >= 15) return 'ud';
    modrm = fetch8(p++);
  }
  const mod = modrm >> 6, ext = (modrm >> 3) & 7;

  let f: Form | undefined;
  if (map === 0 && b === 0x90 && (rex & 1) === 0) {
    // 90 is nop (xchg eax,eax would be 87 C0); F3 90 is pause
    f = rep === 1 ? PAUSE : rep === 0 ? NOP : undefined;
    if (f === undefined) return 'ud';
  } else {
    for (let i = 0; i < cands.length; i++) {
      const c = cands[i]!;
      if (c.ext >= 0 && c.ext !== ext) continue;
      if (c.modrmFixed >= 0 && c.modrmFixed !== modrm) continue;
      if (c.osz === 'v' && c.size !== osz) continue;
      f = c;
      break;
    }
    if (f === undefined) return 'ud';
    if (rep !== 0 && f.prefix !== (rep === 1 ? 0xf3 : 0xf2)) return 'ud';
  }
  if (p66 && (f.osz !== 'v' || rexW)) return 'ud';

  const ops = f.ops;
  const byteOps = f.size === 1;
  let reg = NOREG, rm = NOREG;
  let mem: MemOperand | null = null;
  let immLo = 0, immHi = 0, target = 0;
  let relSize = 0;
  const cond = f.cc ? b & 15 : -1;
  const opLow = b & 7;

  for (let i = 0; i < ops.length; i++) {
    const k = ops[i]!;
    switch (k) {
      case 'r':
        reg = ext | ((rex & 4) << 1);
        if (byteOps && rex === 0 && reg >= 4) reg += 12;
        break;
      case 'o':
        reg = opLow | ((rex & 1) << 3);
        if (byteOps && rex === 0 && reg >= 4) reg += 12;
        break;
      case 'cr': {
        const n = ext | ((rex & 4) << 1);
        if (VALID_CR.indexOf(n) < 0) return 'ud';
        reg = n;
        break;
      }
      case 'dr': {
        const n = ext | ((rex & 4) << 1);
        if (VALID_DR.indexOf(n) < 0) return 'ud';
        reg = n;
        break;
      }
      case 'rr':
        rm = (modrm & 7) | ((rex & 1) << 3);
        break;
      case 'acc':
        rm = 0;
        break;
      case 'rm': case 'm': case 'rm8': case 'rm16': case 'rm32': {
        if (mod === 3) {
          if (k === 'm') return 'ud';
          rm = (modrm & 7) | ((rex & 1) << 3);
          if ((k === 'rm8' || (k === 'rm' && byteOps)) && rex === 0 && rm >= 4) rm += 12;
          break;
        }
        let base = NOREG, index = NOREG;
        let scale: 1 | 2 | 4 | 8 = 1;
        let ripRel = false;
        let dispSize = mod === 1 ? 1 : mod === 2 ? 4 : 0;
        const rmLow = modrm & 7;
        if (rmLow === 4) {
          if (p - addr >= 15) return 'ud';
          const sib = fetch8(p++);
          scale = SCALES[sib >> 6]!;
          const ix = ((sib >> 3) & 7) | ((rex & 2) << 2);
          if (ix !== 4) index = ix;
          const bs = sib & 7;
          if (bs === 5 && mod === 0) dispSize = 4;
          else base = bs | ((rex & 1) << 3);
        } else if (rmLow === 5 && mod === 0) {
          ripRel = true;
          dispSize = 4;
        } else {
          base = rmLow | ((rex & 1) << 3);
        }
        let disp = 0;
        if (dispSize === 1) {
          if (p + 1 - addr > 15) return 'ud';
          disp = (fetch8(p++) << 24) >> 24;
        } else if (dispSize === 4) {
          if (p + 4 - addr > 15) return 'ud';
          disp = fetch8(p) | (fetch8(p + 1) << 8) | (fetch8(p + 2) << 16) | (fetch8(p + 3) << 24);
          p += 4;
        }
        mem = { base, index, scale, disp, ripRel, seg };
        break;
      }
      case 'one':
        immLo = 1;
        break;
      case 'cl':
        break;
      case 'imm8': case 'uimm8': case 'rel8': {
        if (p + 1 - addr > 15) return 'ud';
        const v = fetch8(p++);
        if (k === 'uimm8') immLo = v;
        else {
          immLo = (v << 24) >> 24;
          immHi = immLo >> 31;
          relSize = k === 'rel8' ? 1 : 0;
        }
        break;
      }
      case 'imm16': {
        if (p + 2 - addr > 15) return 'ud';
        immLo = ((fetch8(p) | (fetch8(p + 1) << 8)) << 16) >> 16;
        immHi = immLo >> 31;
        p += 2;
        break;
      }
      case 'imm32': case 'rel32': {
        if (p + 4 - addr > 15) return 'ud';
        immLo = fetch8(p) | (fetch8(p + 1) << 8) | (fetch8(p + 2) << 16) | (fetch8(p + 3) << 24);
        immHi = immLo >> 31;
        p += 4;
        if (k === 'rel32') relSize = 4;
        break;
      }
      case 'imm64': {
        if (p + 8 - addr > 15) return 'ud';
        immLo = fetch8(p) | (fetch8(p + 1) << 8) | (fetch8(p + 2) << 16) | (fetch8(p + 3) << 24);
        immHi = fetch8(p + 4) | (fetch8(p + 5) << 8) | (fetch8(p + 6) << 16) | (fetch8(p + 7) << 24);
        p += 8;
        break;
      }
    }
  }
  const len = p - addr;
  if (len > 15) return 'ud';
  if (lock && (!f.lock || mem === null)) return 'ud';
  if (seg !== SEG_NONE && mem === null) return 'ud';
  const next = addr + len;
  if (relSize !== 0) {
    target = next + immLo;
    immLo = 0;
    immHi = 0;
  }
  return {
    addr, len, next, mnemonic: f.mnemonic, formId: f.id, size: f.size, lock, rep,
    reg, rm, mem, immLo, immHi, cond, target,
  };
}

// ---------------------------------------------------------------- formatter

const Q = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const D = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const W = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
const B = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b', 'ah', 'ch', 'dh', 'bh'];

/** AT&T name of a general register: regName(0, 8) = '%rax'. */
export function regName(n: number, size: number): string {
  const t = size === 8 ? Q : size === 4 ? D : size === 2 ? W : B;
  return '%' + (t[n] ?? '?');
}

function hexU(v: bigint): string {
  return '0x' + v.toString(16);
}

function signedHex(v: number): string {
  return v < 0 ? '-0x' + (-v).toString(16) : '0x' + v.toString(16);
}

/** Address as objdump prints it (unsigned 64-bit hex). */
function addrHex(a: number): string {
  return hexU(BigInt.asUintN(64, BigInt(a)));
}

function memText(m: MemOperand): string {
  let s = m.seg === SEG_GS ? '%gs:' : m.seg === SEG_FS ? '%fs:' : '';
  if (m.ripRel) return s + signedHex(m.disp) + '(%rip)';
  if (m.base === NOREG && m.index === NOREG) return s + addrHex(m.disp);
  // objdump prints the displacement whenever one is encoded (0x0(%rbp))
  const hasDispField = m.disp !== 0 || (m.base !== NOREG && (m.base & 7) === 5) || m.base === NOREG;
  if (hasDispField) s += signedHex(m.disp);
  s += '(';
  if (m.base !== NOREG) s += regName(m.base, 8);
  if (m.index !== NOREG) s += ',' + regName(m.index, 8) + ',' + m.scale;
  return s + ')';
}

/** Immediate as objdump prints it: two's complement at the operand size. */
function immText(i: Instr, size: number): string {
  const v = (BigInt(i.immHi) << 32n) | BigInt(i.immLo >>> 0);
  return '$' + hexU(BigInt.asUintN(size * 8, v));
}

const SUFFIX = ['', 'b', 'w', '', 'l', '', '', '', 'q'];

/**
 * AT&T text in objdump's style (e.g. "mov    %rsp,%rbp", "lock incq 0x0(%rip)").
 * RIP-relative operands get objdump's "        # 0x<target>" comment.
 */
export function formatInstr(i: Instr): string {
  if (i.formId < 0 || i.formId >= FORMS.length) return '(bad)';
  const f = FORMS[i.formId]!;
  let mn = f.mnemonic;
  const sz = f.size;
  const rmText = (k: string): string => {
    if (i.mem) return memText(i.mem);
    const s = k === 'rm8' ? 1 : k === 'rm16' ? 2 : k === 'rm32' ? 4 : sz;
    return regName(i.rm, s);
  };
  const parts: string[] = []; // Intel order
  let hasRegOperand = false;
  for (const k of f.ops) {
    switch (k) {
      case 'r': case 'o': parts.push(regName(i.reg, sz)); hasRegOperand = true; break;
      case 'acc': parts.push(regName(0, sz)); hasRegOperand = true; break;
      case 'rr': parts.push(regName(i.rm, 8)); hasRegOperand = true; break;
      case 'cr': parts.push('%cr' + i.reg); break;
      case 'dr': parts.push('%db' + i.reg); break;
      case 'rm': case 'm': case 'rm8': case 'rm16': case 'rm32':
        parts.push(rmText(k));
        if (!i.mem) hasRegOperand = true;
        break;
      case 'imm8': case 'imm16': case 'imm32': case 'imm64':
        parts.push(immText(i, f.mnemonic === 'push' ? 8 : sz)); break;
      case 'uimm8': parts.push('$' + hexU(BigInt(i.immLo))); break;
      case 'one': break; // objdump 2.40 prints "shl %rax"
      case 'cl': parts.push('%cl'); break;
      case 'rel8': case 'rel32': parts.push(addrHex(i.target)); break;
    }
  }
  switch (mn) {
    case 'jcc': mn = 'j' + CC_NAMES[i.cond]; break;
    case 'setcc': mn = 'set' + CC_NAMES[i.cond]; break;
    case 'cmovcc': mn = 'cmov' + CC_NAMES[i.cond]; break;
    case 'mov_to_cr': case 'mov_from_cr': case 'mov_to_dr': case 'mov_from_dr': mn = 'mov'; break;
    case 'cqo': mn = 'cqto'; break;
    case 'cdq': mn = 'cltd'; break;
    case 'cdqe': mn = 'cltq'; break;
    case 'movzx': case 'movsx':
      mn = (mn === 'movzx' ? 'movz' : 'movs') + (f.ops[1] === 'rm8' ? 'b' : 'w') + SUFFIX[sz];
      break;
    case 'movsxd': mn = 'movslq'; break;
    case 'mov':
      if (f.ops[1] === 'imm64') mn = 'movabs';
      else if (!hasRegOperand) mn += SUFFIX[sz];
      break;
    case 'jmp': case 'call': case 'push': case 'pop':
      if (f.ops[0] === 'rm') parts[0] = '*' + parts[0];
      if (mn === 'push' || mn === 'pop') parts[0] = parts[0]!.replace(/^\*/, '');
      break;
    case 'nop':
      if (i.mem) mn += SUFFIX[sz];
      break;
    case 'pushfq': mn = 'pushf'; break;
    case 'popfq': mn = 'popf'; break;
    default:
      if (f.ops.length && !hasRegOperand && f.ops.some((k) => k === 'rm') && mn !== 'setcc') mn += SUFFIX[sz];
  }
  let s = (i.lock ? 'lock ' : '') + mn;
  if (parts.length) {
    s = s.padEnd(6) + ' ' + parts.reverse().join(',');
  }
  if (i.mem && i.mem.ripRel) s += '        # ' + addrHex(i.next + i.mem.disp);
  return s;
}
