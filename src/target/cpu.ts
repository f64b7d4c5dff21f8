// Architectural state of one x86-64 CPU, and the system instructions whose
// effects reach beyond the ALU (interrupt flag, halting, MSRs, control and
// debug registers). The instruction semantics (x86/exec) call these methods.

import { CpuFault, gp } from './fault.js';
import type { Memory } from './memory.js';
import { DebugRegDigest } from './debugregs.js';
import { Flags, FL_IF, FL_TF, FL_RF } from './x86/flags.js';

/** What a CPU needs from the machine around it. */
export interface CpuHost {
  /** Virtual time-stamp counter for this CPU as [lo, hi] int32 halves written into out. */
  readTsc(cpu: Cpu): bigint;
  /** The CPU executed hlt with interrupts enabled (or not): the machine parks it until an interrupt. */
  halt(cpu: Cpu): void;
  /** Debug registers changed (DR0-3/DR7): the machine re-arms watchpoints. */
  debugRegsChanged(cpu: Cpu): void;
  /** MSRs the machine implements (x2APIC, simulator clocks); undefined = not implemented (#GP). */
  readMsr(cpu: Cpu, idx: number): bigint | undefined;
  /** false = not implemented (#GP). */
  writeMsr(cpu: Cpu, idx: number, value: bigint): boolean;
}

export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_TSC = 0x10;

const TWO32 = 4294967296;

/** Signed canonical number from int32 halves (exact for every canonical address). */
export function join64(lo: number, hi: number): number {
  return hi * TWO32 + (lo >>> 0);
}

export function bigOf(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export class Cpu {
  /** General registers as int32 halves: r[2n] low, r[2n+1] high, n in x86 encoding order. */
  readonly r = new Int32Array(32);
  /** Instruction pointer (signed canonical). During exec it already points at the next instruction. */
  rip = 0;
  readonly flags = new Flags();
  fsBase = 0;
  gsBase = 0;
  kernelGsBase = 0;
  cr0 = 0x80050033; // PE, MP, ET, NE, WP, AM, PG: what a running Linux shows
  cr2 = 0;
  cr3 = 0x1000;
  cr4 = 0x000006a0; // PAE, PGE, OSFXSR
  /** DR0-DR3 (addresses), DR6, DR7. */
  readonly dr = [0, 0, 0, 0];
  dr6 = 0xffff0ff0;
  dr7 = 0x400;
  /** Simulator extension (not architectural): slots with RW=11 that match reads only (gdb Z3; see debugregs.ts). */
  drReadOnly = 0;
  /** IDT base (set by the kernel through a documented MSR-like register, see machine.ts). */
  idtBase = 0;
  /** sti blocks interrupts until after the next instruction. */
  intShadow = false;
  /** Parked by hlt until an interrupt arrives. */
  halted = false;
  /** NMIs are blocked from NMI delivery until the next iretq. */
  nmiBlocked = false;
  /** Instructions retired by this CPU. */
  retired = 0;
  /** IDT limit (lidt). */
  idtLimit = 0;
  /**
   * Set by anything that may change what the run loop must check between
   * instructions (IF enabled, hlt, TF, debug registers, a self-IPI, a data
   * watchpoint hit): the fast loop then drops to the careful path.
   */
  attention = false;
  /** Index within its block of the instruction a compiled block was executing when it threw. */
  blockPos = 0;
  /** DR6 trap bits collected by data watchpoints during the current instruction. */
  pendingDr6 = 0;
  /** Decoded DR7 for the run loop. */
  readonly dbg = new DebugRegDigest();
  /** Held by the debugger (kgdb master or slave): the machine does not run it. */
  frozen = false;
  /** Stopped for good (triple fault). */
  dead = false;

  constructor(
    readonly id: number,
    readonly mem: Memory,
    readonly host: CpuHost,
  ) {}

  getReg64(n: number): bigint {
    return bigOf(this.r[2 * n], this.r[2 * n + 1]);
  }

  setReg64(n: number, v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.r[2 * n] = Number(u & 0xffffffffn) | 0;
    this.r[2 * n + 1] = Number(u >> 32n) | 0;
  }

  /** Register value as a signed canonical address. */
  addrOf(n: number): number {
    return join64(this.r[2 * n], this.r[2 * n + 1]);
  }

  setAddr(n: number, v: number): void {
    this.r[2 * n] = v | 0; // ToInt32 is modulo 2^32, exact for canonical numbers
    this.r[2 * n + 1] = Math.floor(v / TWO32) | 0;
  }

  // ---- system instructions, called by the semantics ----

  lidt(addr: number): void {
    const limit = this.mem.read16(addr);
    const lo = this.mem.read32(addr + 2);
    const hi = this.mem.read32(addr + 6);
    this.idtLimit = limit;
    this.idtBase = join64(lo, hi);
  }

  cli(): void {
    this.flags.sys &= ~FL_IF;
  }

  sti(): void {
    if ((this.flags.sys & FL_IF) === 0) this.intShadow = true;
    this.flags.sys |= FL_IF;
    this.attention = true;
  }

  hlt(): void {
    this.halted = true;
    this.attention = true;
    this.host.halt(this);
  }

  pushfq(): void {
    const sp = this.addrOf(4) - 8;
    // RF and VM are never pushed by pushfq.
    this.mem.write64(sp, this.flags.read() & ~FL_RF, 0);
    this.setAddr(4, sp);
  }

  popfq(): void {
    const sp = this.addrOf(4);
    const v = this.mem.read64(sp);
    const wasIf = (this.flags.sys & FL_IF) !== 0;
    this.flags.write((v & 0x3f7fd7) | 0x2);
    this.setAddr(4, sp + 8);
    if (!wasIf && (this.flags.sys & FL_IF) !== 0) this.intShadow = true;
    this.attention = true;
  }

  /** iretq: pop RIP, CS, RFLAGS, RSP, SS (long mode always pops all five). */
  iretq(): void {
    const sp = this.addrOf(4);
    const ripLo = this.mem.read64(sp);
    const ripHi = this.mem.hi;
    this.mem.read64(sp + 8); // cs
    const fl = this.mem.read64(sp + 16);
    const rspLo = this.mem.read64(sp + 24);
    const rspHi = this.mem.hi;
    this.mem.read64(sp + 32); // ss
    const newRip = join64(ripLo, ripHi);
    if (newRip < -0x800000000000 || newRip >= 0x800000000000) throw gp(0);
    this.rip = newRip;
    this.flags.write((fl & 0x3f7fd7) | 0x2);
    this.r[8] = rspLo;
    this.r[9] = rspHi;
    this.nmiBlocked = false;
    this.attention = true;
  }

  rdtsc(): void {
    const t = this.host.readTsc(this);
    this.r[0] = Number(t & 0xffffffffn) | 0;
    this.r[1] = 0;
    this.r[4] = Number((t >> 32n) & 0xffffffffn) | 0;
    this.r[5] = 0;
  }

  rdmsr(): void {
    const idx = this.r[2] >>> 0;
    let v: number;
    if (idx === MSR_FS_BASE) v = this.fsBase;
    else if (idx === MSR_GS_BASE) v = this.gsBase;
    else if (idx === MSR_KERNEL_GS_BASE) v = this.kernelGsBase;
    else if (idx === MSR_TSC) {
      this.rdtsc();
      return;
    } else {
      const m = this.host.readMsr(this, idx);
      if (m === undefined) throw gp(0);
      this.r[0] = Number(m & 0xffffffffn) | 0;
      this.r[1] = 0;
      this.r[4] = Number((m >> 32n) & 0xffffffffn) | 0;
      this.r[5] = 0;
      return;
    }
    this.setAddr(0, v); // split into EDX:EAX below
    this.r[4] = this.r[1];
    this.r[1] = 0;
    this.r[5] = 0;
  }

  wrmsr(): void {
    const idx = this.r[2] >>> 0;
    if (idx === MSR_FS_BASE || idx === MSR_GS_BASE || idx === MSR_KERNEL_GS_BASE) {
      const v = join64(this.r[0], this.r[4]);
      if (v < -0x800000000000 || v >= 0x800000000000) throw gp(0);
      if (idx === MSR_FS_BASE) this.fsBase = v;
      else if (idx === MSR_GS_BASE) this.gsBase = v;
      else this.kernelGsBase = v;
      return;
    }
    if (!this.host.writeMsr(this, idx, bigOf(this.r[0], this.r[4]))) throw gp(0);
    this.attention = true;
  }

  swapgs(): void {
    const t = this.gsBase;
    this.gsBase = this.kernelGsBase;
    this.kernelGsBase = t;
  }

  movFromCr(n: number, reg: number): void {
    const v = n === 0 ? this.cr0 : n === 2 ? this.cr2 : n === 3 ? this.cr3 : n === 4 ? this.cr4 : undefined;
    if (v === undefined) throw new CpuFault(6);
    this.setAddr(reg, v);
  }

  movToCr(n: number, reg: number): void {
    const v = this.addrOf(reg);
    if (n === 0) this.cr0 = v;
    else if (n === 2) this.cr2 = v;
    else if (n === 3) this.cr3 = v;
    else if (n === 4) this.cr4 = v;
    else throw new CpuFault(6);
  }

  movFromDr(n: number, reg: number): void {
    let v: number;
    if (n < 4) v = this.dr[n];
    else if (n === 6) v = this.dr6;
    else if (n === 7) v = this.dr7;
    else throw new CpuFault(6);
    this.setAddr(reg, v);
  }

  movToDr(n: number, reg: number): void {
    const v = this.addrOf(reg);
    if (n < 4) this.dr[n] = v;
    else if (n === 6) this.dr6 = (v & 0xf00f) | 0xffff0ff0;
    else if (n === 7) this.dr7 = (v | 0x400) >>> 0;
    else throw new CpuFault(6);
    this.dbg.update(this.dr, this.dr7, this.drReadOnly);
    this.attention = true;
    this.host.debugRegsChanged(this);
  }

  /** True when TF is set (single-step trap after the next instruction). */
  get trapFlag(): boolean {
    return (this.flags.sys & FL_TF) !== 0;
  }
}
