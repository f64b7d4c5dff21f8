// Test helpers: a CPU over a real Memory, hand-built Instrs from the opcode table.
import { Cpu, type CpuHost } from '../../src/target/cpu.js';
import { Memory, PERM_RW } from '../../src/target/memory.js';
import { compile } from '../../src/target/x86/exec/index.js';
import { NOREG, SEG_NONE, type Instr, type MemOperand, type OpSize } from '../../src/target/x86/instr.js';
import { FORMS, type OpKind } from '../../src/target/x86/opcodes.js';

export const DATA = 0x10000; // one RW data page
export const STACK_TOP = 0x30000; // RW stack pages below this
export const CODE = -0x7f000000; // 0xffffffff81000000, where the test instructions "live"

export function makeCpu(): Cpu {
  const mem = new Memory();
  mem.map(DATA, 0x1000, PERM_RW);
  mem.map(STACK_TOP - 0x2000, 0x2000, PERM_RW);
  const host: CpuHost = {
    readTsc: () => 0x1234567890n,
    halt: () => {},
    debugRegsChanged: () => {},
    readMsr: () => undefined,
    writeMsr: () => false,
  };
  const cpu = new Cpu(0, mem, host);
  cpu.setAddr(4, STACK_TOP);
  return cpu;
}

/** The form id of (mnemonic, operand kinds, size). */
export function formId(mnemonic: string, ops: readonly OpKind[], size: OpSize): number {
  const f = FORMS.find(
    (f) => f.mnemonic === mnemonic && f.size === size && f.ops.length === ops.length && f.ops.every((k, i) => k === ops[i]),
  );
  if (!f) throw new Error(`no form ${mnemonic} ${ops.join(',')} size ${size}`);
  return f.id;
}

export function memOp(p: Partial<MemOperand> = {}): MemOperand {
  return { base: NOREG, index: NOREG, scale: 1, disp: 0, ripRel: false, seg: SEG_NONE, ...p };
}

export interface InsSpec {
  reg?: number;
  rm?: number;
  mem?: MemOperand | null;
  imm?: bigint | number;
  cond?: number;
  target?: number;
  lock?: boolean;
  len?: number;
}

/** Build an Instr for the form (mnemonic, ops, size) at CODE. */
export function ins(mnemonic: string, ops: readonly OpKind[], size: OpSize, s: InsSpec = {}): Instr {
  const imm = BigInt.asUintN(64, BigInt(s.imm ?? 0));
  const len = s.len ?? 4;
  return {
    addr: CODE,
    len,
    next: CODE + len,
    mnemonic,
    formId: formId(mnemonic, ops, size),
    size,
    lock: s.lock ?? false,
    rep: 0,
    reg: s.reg ?? NOREG,
    rm: s.mem ? NOREG : (s.rm ?? NOREG),
    mem: s.mem ?? null,
    immLo: Number(imm & 0xffffffffn) | 0,
    immHi: Number(imm >> 32n) | 0,
    cond: s.cond ?? -1,
    target: s.target ?? 0,
  };
}

/** Compile and execute one instruction the way the run loop does (rip = next first). */
export function exec(cpu: Cpu, i: Instr): void {
  const fn = compile(i);
  cpu.rip = i.next;
  fn(cpu);
}

export const hex = (v: bigint): string => '0x' + BigInt.asUintN(64, v).toString(16);
