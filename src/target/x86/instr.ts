// The decoded form of one x86-64 instruction, shared by the decoder (decoder.ts),
// the semantics compiler (exec/*.ts) and the assembler (src/kernel/asm.ts).
//
// 64-bit values in this code base: addresses (RIP, effective addresses, segment
// bases, DR0-3) are canonical, so they fit a JS number exactly when kept SIGNED
// (kernel text 0xffffffff81000000 is the number -0x7f000000). General registers
// hold arbitrary 64-bit data and live as two int32 halves (see cpu.ts).

/** Register numbers as x86 encodes them (ModRM/REX). 16-19 are AH, CH, DH, BH (8-bit, no REX only). */
export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
export const R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;
export const AH = 16, CH = 17, DH = 18, BH = 19;

/** No register (absent base/index in a memory operand). */
export const NOREG = -1;

/** Segment override that matters in long mode. */
export const SEG_NONE = 0, SEG_FS = 1, SEG_GS = 2;
export type Seg = typeof SEG_NONE | typeof SEG_FS | typeof SEG_GS;

export type OpSize = 1 | 2 | 4 | 8;

/** A memory operand: seg:[base + index*scale + disp], or [rip + disp] (ripRel). */
export interface MemOperand {
  base: number; // register number or NOREG
  index: number; // register number or NOREG (RSP cannot be an index)
  scale: 1 | 2 | 4 | 8;
  disp: number; // signed 32-bit displacement
  ripRel: boolean; // effective address = address of the NEXT instruction + disp
  seg: Seg;
}

/** Condition codes in x86 encoding order (the low nibble of Jcc/SETcc/CMOVcc). */
export const CC_O = 0, CC_NO = 1, CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_BE = 6, CC_A = 7;
export const CC_S = 8, CC_NS = 9, CC_P = 10, CC_NP = 11, CC_L = 12, CC_GE = 13, CC_LE = 14, CC_G = 15;

export const CC_NAMES = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'] as const;
export type CondName = (typeof CC_NAMES)[number];

/**
 * One decoded instruction. Which fields are meaningful depends on the opcode
 * form (see opcodes.ts): `reg` is the ModRM.reg operand (or the register
 * embedded in the opcode byte), `rm`/`mem` the ModRM.rm operand.
 */
export interface Instr {
  addr: number; // address of the first byte (signed canonical)
  len: number; // length in bytes (1..15)
  next: number; // addr + len
  mnemonic: string; // e.g. 'add', 'mov', 'jcc', 'lock cmpxchg' is mnemonic 'cmpxchg' + lock
  formId: number; // index of the matching form in the opcode table
  size: OpSize; // operand size
  lock: boolean; // LOCK prefix present (and legal for the form)
  rep: 0 | 1 | 2; // 0 none, 1 REP/REPE (F3), 2 REPNE (F2)
  reg: number; // register operand from ModRM.reg or opcode low bits, or NOREG
  rm: number; // register operand from ModRM.rm when mod == 3, else NOREG
  mem: MemOperand | null; // memory operand when mod != 3
  immLo: number; // immediate, low 32 bits (int32), already sign/zero-extended per form
  immHi: number; // immediate, high 32 bits (int32)
  cond: number; // condition code for jcc/setcc/cmovcc, else -1
  target: number; // absolute target of a relative branch (signed canonical), else 0
}

/** Executes one decoded instruction on a CPU. Set by the semantics compiler. */
export type ExecFn = (cpu: import('../cpu.js').Cpu) => void;

/** A decoded instruction bound to its semantics: what the decode cache stores. */
export interface BoundInstr extends Instr {
  exec: ExecFn;
}
