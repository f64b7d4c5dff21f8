// The simulated SMP machine: memory, CPUs, local APICs, virtual time.
//
// One JS thread runs every CPU round-robin in instruction quanta (QEMU
// single-threaded TCG style): memory is sequentially consistent and `lock`ed
// instructions are atomic by construction. The order in which CPUs run within
// a round and the quantum lengths come from a seeded PRNG, so the whole run is
// a pure function of (image, CPU count, seed, external inputs).
//
// Time: every CPU retires 100 M instructions per virtual second (10 ns each).
// Timers and IPIs are events keyed by (time, cpu, seq). When every CPU that
// may run is halted, the clock jumps to the next event: idling costs nothing.

import {
  LocalApic, LVT_MASKED, LVT_PERIODIC, MSR_APIC_EOI, MSR_APIC_ICR, MSR_APIC_ID, MSR_APIC_LVT_TIMER,
  MSR_APIC_TDCR, MSR_APIC_TMCCT, MSR_APIC_TMICT,
} from './apic.js';
import { Cpu, type CpuHost } from './cpu.js';
import { DR6_BS, DR6_FIXED } from './debugregs.js';
import { EventQueue } from './events.js';
import { CpuFault, VEC_BP, VEC_DB, VEC_DF, VEC_NMI, VEC_PF, VEC_UD } from './fault.js';
import { type Block, Memory } from './memory.js';
import { Rng } from './rng.js';
import { compileBlock, COMPILE_AFTER } from './block-compiler.js';
import { blockAt, decodeAt } from './decode-cache.js';
import { FL_IF, FL_RF, FL_TF } from './x86/flags.js';
import type { BoundInstr } from './x86/instr.js';

/** Virtual nanoseconds per retired instruction (100 MIPS per CPU). */
export const NS_PER_INSN = 10;
/** Nominal instructions per quantum; the seed varies it by ±50%. */
export const QUANTUM = 2000;
/** IPI latency in virtual ns. */
export const IPI_LATENCY_NS = 200;
/** HPET-like second clocksource (simulator MSR), 14.31818 MHz. */
export const MSR_SIM_HPET = 0x4b560001;
export const HPET_HZ = 14_318_180;

export interface LoadSegment {
  addr: number; // signed canonical
  bytes: Uint8Array; // initialised contents (may be shorter than size: the rest is zero)
  size: number;
  perms: number; // PERM_* from memory.ts
}

export interface LoadImage {
  segments: LoadSegment[];
  entry: number;
}

/**
 * How far hardware time (TSC, HPET) advances across a debugger stop.
 * 'wall': the host wall time the stop lasted (the one place wall time enters the machine);
 * 'none': not at all; 'fixed': a set amount per stop. Virtual time (timers, jiffies) never advances while stopped.
 */
export type ClockPolicy = { kind: 'wall' } | { kind: 'none' } | { kind: 'fixed'; ns: number };

export interface MachineOptions {
  image: LoadImage;
  cpus: number;
  seed?: number;
  clock?: ClockPolicy;
}

/** Debug-core interception of int3, #DB and NMI before the kernel's IDT sees them. */
export type DebugInterceptor = (cpu: Cpu, vector: number, dr6: number) => boolean;

export interface MachineEventRecord {
  time: number;
  cpu: number;
  kind: 'triple-fault' | 'ud' | 'internal-error';
  detail: string;
}

export type RunResult = 'limit' | 'stopped' | 'idle-forever' | 'budget';

/**
 * Interceptor vector for a host-only execute breakpoint (Machine.setHostBreakpoint):
 * the debugger's internal breakpoints, which use no debug-register slot and
 * never appear in guest memory.
 */
export const VEC_HOST_BREAK = -2;

export class Machine {
  readonly mem = new Memory();
  readonly cpus: Cpu[] = [];
  readonly apics: LocalApic[] = [];
  readonly events = new EventQueue();
  readonly log: MachineEventRecord[] = [];
  /** Virtual time in ns. */
  now = 0;
  /** Extra hardware time (TSC/HPET) accumulated across debugger stops, per the clock policy. */
  hwOffset = 0;
  clock: ClockPolicy;
  readonly seed: number;
  private readonly rng: Rng;
  /** Retired count of each CPU at the start of its current quantum (for intra-quantum TSC). */
  private readonly quantumBase: number[] = [];
  private quantumStartTime = 0;
  /** Set to leave the run loop at the next instruction boundary. */
  private stopFlag = false;
  interceptor: DebugInterceptor | null = null;
  /** Compile hot blocks into one function each (block-compiler.ts); off: every block interpreted. Same results either way. */
  blockCompile = true;
  /** Blocks compiled so far. */
  blocksCompiled = 0;
  /** FNV-1a over (cpu, rip, retired) at every quantum end: identical runs, identical hash. */
  traceHash = 0x811c9dc5;
  /** Host-only execute breakpoints (see VEC_HOST_BREAK); while any is set, CPUs run the careful path. */
  private readonly hostExec = new Set<number>();
  /** CPU currently executing (for data watchpoint attribution). */
  private current: Cpu | null = null;
  private order: number[] = [];
  private firstCpu = -1;

  constructor(opts: MachineOptions) {
    this.seed = opts.seed ?? 1;
    this.rng = new Rng(this.seed);
    this.clock = opts.clock ?? { kind: 'none' };
    if (!Number.isInteger(opts.cpus) || opts.cpus < 1 || opts.cpus > 256) throw new RangeError('cpus must be 1..256');
    for (const s of opts.image.segments) {
      this.mem.map(s.addr, s.size, s.perms);
      if (!this.mem.poke(s.addr, s.bytes)) throw new Error('segment load failed');
    }
    const host: CpuHost = {
      readTsc: (cpu) => BigInt(this.hwNow(cpu)),
      halt: () => {},
      debugRegsChanged: () => this.rearmWatch(),
      readMsr: (cpu, idx) => this.readMsr(cpu, idx),
      writeMsr: (cpu, idx, v) => this.writeMsr(cpu, idx, v),
    };
    for (let i = 0; i < opts.cpus; i++) {
      const cpu = new Cpu(i, this.mem, host);
      cpu.rip = opts.image.entry;
      cpu.r[2 * 7] = i; // rdi = cpu number
      cpu.r[2 * 6] = opts.cpus; // rsi = online cpus
      this.cpus.push(cpu);
      this.apics.push(new LocalApic());
      this.quantumBase.push(0);
      this.order.push(i);
    }
    this.mem.onAccess = (addr, size, write) => {
      const c = this.current;
      if (c === null || c.dbg.data.length === 0) return;
      const bits = c.dbg.matchData(addr, size, write);
      if (bits !== 0) {
        c.pendingDr6 |= bits;
        c.attention = true;
      }
    };
  }

  // ---------------------------------------------------------------- time

  /** Hardware time seen by a CPU (TSC = ns at 1 GHz), advancing within its quantum. */
  hwNow(cpu: Cpu): number {
    return this.now + (cpu.retired - this.quantumBase[cpu.id]) * NS_PER_INSN + this.hwOffset;
  }

  /** The debugger held the machine for `wallMs` host milliseconds: advance hardware time per the policy. */
  accountStop(wallMs: number): number {
    const add =
      this.clock.kind === 'wall' ? Math.round(wallMs * 1e6) : this.clock.kind === 'fixed' ? this.clock.ns : 0;
    this.hwOffset += add;
    return add;
  }

  // ---------------------------------------------------------------- MSRs / APIC

  private readMsr(cpu: Cpu, idx: number): bigint | undefined {
    const apic = this.apics[cpu.id];
    switch (idx) {
      case MSR_APIC_ID:
        return BigInt(cpu.id);
      case MSR_APIC_LVT_TIMER:
        return BigInt(apic.lvtTimer >>> 0);
      case MSR_APIC_TMICT:
        return BigInt(apic.initialCount);
      case MSR_APIC_TMCCT:
        return BigInt(apic.currentCount(this.hwNow(cpu) - this.hwOffset));
      case MSR_APIC_TDCR:
        return BigInt(apic.divide);
      case MSR_SIM_HPET:
        return BigInt(Math.floor((this.hwNow(cpu) * HPET_HZ) / 1e9));
      default:
        return undefined;
    }
  }

  private writeMsr(cpu: Cpu, idx: number, v: bigint): boolean {
    const apic = this.apics[cpu.id];
    const lo = Number(v & 0xffffffffn);
    switch (idx) {
      case MSR_APIC_EOI:
        apic.eoi();
        return true;
      case MSR_APIC_LVT_TIMER:
        apic.lvtTimer = lo;
        return true;
      case MSR_APIC_TDCR:
        apic.divide = lo & 0xb;
        return true;
      case MSR_APIC_TMICT:
        apic.initialCount = lo;
        apic.timerGen++;
        apic.timerStart = this.hwNow(cpu) - this.hwOffset;
        if (lo !== 0) this.scheduleTimer(cpu.id, apic.timerStart + apic.periodNs());
        return true;
      case MSR_APIC_ICR:
        this.sendIcr(cpu.id, lo, Number(v >> 32n));
        return true;
      default:
        return false;
    }
  }

  private scheduleTimer(id: number, time: number): void {
    this.events.push({ time, cpu: id, kind: 'timer', vector: 0, gen: this.apics[id].timerGen });
  }

  private sendIcr(from: number, lo: number, dest: number): void {
    const vector = lo & 0xff;
    const mode = (lo >> 8) & 7;
    const shorthand = (lo >> 18) & 3;
    const time = this.hwNow(this.cpus[from]) - this.hwOffset + IPI_LATENCY_NS;
    const send = (to: number): void => {
      if (to < 0 || to >= this.cpus.length) return;
      this.events.push({ time, cpu: to, kind: mode === 4 ? 'nmi' : 'ipi', vector, gen: 0 });
    };
    if (shorthand === 0) send(dest);
    else if (shorthand === 1) send(from);
    else for (let i = 0; i < this.cpus.length; i++) if (shorthand === 2 || i !== from) send(i);
  }

  /** Host-side IPI, e.g. the debugger's NMI roundup. Arrives after the usual latency. */
  sendNmi(to: number): void {
    this.events.push({ time: this.now + IPI_LATENCY_NS, cpu: to, kind: 'nmi', vector: 2, gen: 0 });
  }

  /** Deliver due events into the APICs. */
  private drainEvents(upTo: number): void {
    while (this.events.peekTime() <= upTo) {
      const e = this.events.pop()!;
      const apic = this.apics[e.cpu];
      const cpu = this.cpus[e.cpu];
      if (e.kind === 'timer') {
        if (e.gen !== apic.timerGen || apic.initialCount === 0) continue;
        if ((apic.lvtTimer & LVT_MASKED) === 0) {
          apic.request(apic.lvtTimer & 0xff);
          apic.timerFired++;
        }
        if (apic.lvtTimer & LVT_PERIODIC) {
          apic.timerStart = e.time;
          this.scheduleTimer(e.cpu, e.time + apic.periodNs());
        }
      } else if (e.kind === 'nmi') {
        apic.nmiPending = true;
      } else {
        apic.request(e.vector);
      }
      cpu.attention = true;
    }
  }

  // ---------------------------------------------------------------- exceptions

  /**
   * Deliver an exception or interrupt through the IDT with a long-mode frame.
   * Returns false when the CPU died (triple fault).
   */
  deliver(cpu: Cpu, vector: number, errorCode: number | undefined, nested = 0): boolean {
    try {
      if (vector * 16 + 15 > cpu.idtLimit) throw new CpuFault(13, vector * 8 + 2);
      const g = cpu.idtBase + vector * 16;
      const m = this.mem;
      const w0 = m.read32(g), w1 = m.read32(g + 4), w2 = m.read32(g + 8);
      if ((w1 & 0x8000) === 0) throw new CpuFault(11, vector * 8 + 2); // not present
      const type = (w1 >> 8) & 0xf;
      const target = w2 * 4294967296 + (((w1 & 0xffff0000) | (w0 & 0xffff)) >>> 0);
      const oldRsp = cpu.addrOf(4);
      const fl = cpu.flags.read();
      let sp = oldRsp - (((oldRsp % 16) + 16) % 16);
      sp -= 8; m.write64(sp, 0x18, 0);
      sp -= 8; m.write64(sp, cpu.r[8], cpu.r[9]);
      sp -= 8; m.write64(sp, fl, 0);
      sp -= 8; m.write64(sp, 0x10, 0);
      sp -= 8; m.write64(sp, cpu.rip | 0, Math.floor(cpu.rip / 4294967296) | 0);
      if (errorCode !== undefined) {
        sp -= 8;
        m.write64(sp, errorCode, 0);
      }
      cpu.setAddr(4, sp);
      cpu.rip = target;
      cpu.flags.sys &= ~(FL_TF | FL_RF);
      if (type === 0xe) cpu.flags.sys &= ~FL_IF;
      if (vector === VEC_NMI) cpu.nmiBlocked = true;
      cpu.halted = false;
      cpu.attention = true;
      return true;
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      if (e.vector === VEC_PF) cpu.cr2 = e.addr;
      if (nested >= 1) {
        cpu.dead = true;
        this.log.push({ time: this.now, cpu: cpu.id, kind: 'triple-fault', detail: `vector ${vector} at rip ${hex(cpu.rip)}` });
        this.stopFlag = true;
        return false;
      }
      return this.deliver(cpu, VEC_DF, 0, nested + 1);
    }
  }

  /** An instruction raised an exception (or a debug trap): intercept or deliver. */
  private raise(cpu: Cpu, f: CpuFault, dr6 = 0): void {
    if (f.vector === VEC_PF) cpu.cr2 = f.addr;
    if (f.vector === VEC_BP || f.vector === VEC_DB) {
      if (f.vector === VEC_DB) cpu.dr6 = (DR6_FIXED | dr6) >>> 0;
      if (this.interceptor !== null && this.interceptor(cpu, f.vector, dr6)) return;
    }
    if (f.vector === VEC_UD)
      this.log.push({ time: this.now, cpu: cpu.id, kind: 'ud', detail: `#UD at ${hex(cpu.rip)}` });
    this.deliver(cpu, f.vector, f.errorCode);
  }

  // ---------------------------------------------------------------- watchpoints

  private rearmWatch(): void {
    let any = false;
    for (const c of this.cpus) if (c.dbg.data.length > 0) any = true;
    this.mem.watching = any;
  }

  /** Set or clear a host-only execute breakpoint at addr (checked before the instruction, like DR exec). */
  setHostBreakpoint(addr: number, on: boolean): void {
    if (on) this.hostExec.add(addr);
    else this.hostExec.delete(addr);
    for (const c of this.cpus) c.attention = true;
  }

  /** Re-read DR7 of a CPU after the host changed its debug registers. */
  debugRegsUpdated(cpu: Cpu): void {
    cpu.dbg.update(cpu.dr, cpu.dr7, cpu.drReadOnly);
    cpu.attention = true;
    this.rearmWatch();
  }

  // ---------------------------------------------------------------- run control

  /**
   * Run this CPU first in the next round (the debugger steps it: the others,
   * which run while the step completes, then run for the step's duration
   * rather than a whole quantum before it).
   */
  runFirst(cpu: number): void {
    this.firstCpu = cpu;
  }

  /** Leave the run loop at the next instruction boundary. */
  requestStop(): void {
    this.stopFlag = true;
  }

  get stopRequested(): boolean {
    return this.stopFlag;
  }

  /**
   * Run until virtual time reaches `until`, a stop is requested, or `maxInsns`
   * instructions (all CPUs together) have run. Returns why it returned.
   */
  run(until: number, maxInsns = Infinity): RunResult {
    // Rounds are never cut short by `until` or `maxInsns` (they are only
    // checked between rounds), so how a host slices a run cannot change the
    // instruction trace: only the seed and external inputs (debugger stops) do.
    this.stopFlag = false;
    let done = 0;
    const n = this.cpus.length;
    while (this.now < until) {
      if (this.stopFlag) return 'stopped';
      if (done >= maxInsns) return 'budget';
      this.drainEvents(this.now);
      let runnable = 0;
      let live = 0;
      for (let i = 0; i < n; i++) {
        const c = this.cpus[i];
        if (c.frozen || c.dead) continue;
        live++;
        if (c.halted) this.wakeIfPending(c);
        if (!c.halted) runnable++;
      }
      if (live === 0) return 'stopped'; // everything is held by the debugger (or dead)
      if (runnable === 0) {
        const next = this.events.peekTime();
        if (next === Infinity) return 'idle-forever';
        if (next > until) {
          // Integral: callers may pass a fractional `until` (the runner's wall-clock pacing), and
          // rdtsc turns virtual time into a BigInt, which throws on a fraction (issue 5: the kernel
          // now reads the TSC on every tick).
          this.now = Math.ceil(until);
          return 'limit';
        }
        this.now = Math.max(next, this.now);
        continue;
      }
      // Seeded round: a shuffled CPU order and one quantum length per round. A
      // round ends no later than the next event, so an interrupt or IPI (the
      // debugger's NMI roundup) is taken within its latency, not a quantum later.
      let q = (QUANTUM >> 1) + this.rng.below(QUANTUM);
      const toEvent = Math.ceil((this.events.peekTime() - this.now) / NS_PER_INSN);
      if (toEvent < q) q = Math.max(1, toEvent);
      const order = this.order;
      for (let i = n - 1; i > 0; i--) {
        const j = this.rng.below(i + 1);
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      if (this.firstCpu >= 0) {
        // An external input (the debugger resumed with a single step) puts this CPU first.
        const k = order.indexOf(this.firstCpu);
        order[k] = order[0];
        order[0] = this.firstCpu;
        this.firstCpu = -1;
      }
      this.quantumStartTime = this.now;
      for (let k = 0; k < n; k++) {
        const c = this.cpus[order[k]];
        if (c.frozen || c.dead || c.halted) continue;
        this.quantumBase[c.id] = c.retired;
        const ran = this.runCpu(c, q);
        done += ran;
        this.traceHash = fnv(fnv(fnv(this.traceHash, c.id), c.rip | 0), c.retired);
        this.quantumBase[c.id] = c.retired;
        if (this.stopFlag) {
          this.now = this.quantumStartTime + ran * NS_PER_INSN;
          return 'stopped';
        }
      }
      this.now = this.quantumStartTime + q * NS_PER_INSN;
    }
    return 'limit';
  }

  /** A halted CPU wakes for a deliverable interrupt or an NMI. */
  private wakeIfPending(c: Cpu): void {
    const a = this.apics[c.id];
    if ((a.nmiPending && !c.nmiBlocked) || ((c.flags.sys & FL_IF) !== 0 && a.deliverable() >= 0)) c.halted = false;
  }

  /**
   * Take a pending NMI or interrupt at an instruction boundary. Returns true
   * if control was transferred (or the CPU was taken by the debugger).
   */
  private takeInterrupt(c: Cpu): boolean {
    const a = this.apics[c.id];
    if (a.nmiPending && !c.nmiBlocked) {
      a.nmiPending = false;
      c.halted = false;
      if (this.interceptor !== null && this.interceptor(c, VEC_NMI, 0)) return true;
      this.deliver(c, VEC_NMI, undefined);
      return true;
    }
    if ((c.flags.sys & FL_IF) !== 0 && !c.intShadow) {
      const v = a.deliverable();
      if (v >= 0) {
        a.accept(v);
        c.halted = false;
        this.deliver(c, v, undefined);
        return true;
      }
    }
    return false;
  }

  /** Execute up to `budget` instructions on one CPU. Returns instructions retired. */
  runCpu(c: Cpu, budget: number): number {
    this.current = c;
    const start = c.retired;
    const end = start + budget;
    c.attention = true;
    while (c.retired < end && !c.halted && !c.frozen && !c.dead && !this.stopFlag) {
      if (c.attention) {
        // The careful path: interrupts, debug features, interrupt shadow.
        c.attention = false;
        if (c.pendingDr6 !== 0) {
          // A data watchpoint hit by the instruction that just completed: a trap, reported now.
          const bits = c.pendingDr6;
          c.pendingDr6 = 0;
          this.raise(c, new CpuFault(VEC_DB, undefined, 0, true), bits);
          c.attention = true;
          continue;
        }
        if (this.takeInterrupt(c)) {
          c.attention = true;
          continue;
        }
        if (c.intShadow || (c.flags.sys & (FL_TF | FL_RF)) !== 0 || c.dbg.anyExec || c.pendingDr6 !== 0 || this.hostExec.size > 0) {
          c.intShadow = false;
          this.stepCareful(c);
          c.attention = true; // re-check: the fast loop resumes once nothing needs care
          continue;
        }
      }
      this.runFast(c, end);
    }
    this.current = null;
    return c.retired - start;
  }

  /**
   * The hot loop: no debug features active, no interrupt shadow. Runs cached
   * straight-line blocks; RIP is only stored before a block's last instruction
   * (the only one that may read or change it) or when the loop must stop early.
   */
  private runFast(c: Cpu, end: number): void {
    const mem = this.mem;
    let blk: Block | undefined;
    let prev: Block | undefined;
    let i = 0;
    let compiled = false;
    try {
      while (c.retired < end) {
        i = 0;
        compiled = false;
        const rip = c.rip;
        // Chained successor: the block that followed last time, if still valid.
        blk = undefined;
        if (prev !== undefined) {
          const l0 = prev.link0;
          if (l0 !== undefined && l0.start === rip && l0.valid) blk = l0;
          else {
            const l1 = prev.link1;
            if (l1 !== undefined && l1.start === rip && l1.valid) blk = l1;
          }
        }
        if (blk === undefined) {
          const page = mem.fetchPage(rip);
          const blocks = page.blocks;
          blk = blocks === null ? undefined : blocks[rip & 4095];
          if (blk === undefined) blk = blockAt(mem, page, rip);
          if (prev !== undefined && blk.valid) {
            // Remember it: slot 0 for the first successor seen, slot 1 for the other.
            if (prev.link0 === undefined || !prev.link0.valid) prev.link0 = blk;
            else prev.link1 = blk;
          }
        }
        const list = blk.ins;
        const n = list.length - 1;
        let fn = blk.fn;
        if (fn === undefined && n > 0 && this.blockCompile && ++blk.hits >= COMPILE_AFTER && blk.valid) {
          fn = blk.fn = compileBlock(blk);
          this.blocksCompiled++;
        }
        if (fn !== undefined) {
          // The same steps as the loop below, in the block's own function.
          compiled = true;
          c.retired += fn(c);
          if (c.attention) return;
          prev = blk.valid ? blk : undefined;
          continue;
        }
        for (; i < n; i++) {
          list[i].exec(c);
          if (c.attention) {
            c.rip = list[i].next;
            c.retired += i + 1;
            return;
          }
        }
        const last = list[n];
        c.rip = last.next;
        last.exec(c);
        c.retired += n + 1;
        if (c.attention) return;
        prev = blk.valid ? blk : undefined;
      }
    } catch (e) {
      if (blk === undefined) {
        this.fault(c, e, c.rip);
      } else if (compiled) {
        c.retired += c.blockPos;
        this.fault(c, e, blk.ins[c.blockPos].addr);
      } else {
        c.retired += i;
        this.fault(c, e, blk.ins[i].addr);
      }
    }
  }

  /** One instruction with every debug feature honoured (TF, RF, DR execute/data breakpoints). */
  private stepCareful(c: Cpu): void {
    const startRip = c.rip;
    const fl = c.flags.sys;
    // Execute breakpoints are faults: checked before the instruction, suppressed by RF.
    if (this.hostExec.size > 0 && (fl & FL_RF) === 0 && this.hostExec.has(startRip)) {
      if (this.interceptor !== null && this.interceptor(c, VEC_HOST_BREAK, 0)) return;
    }
    if (c.dbg.anyExec && (fl & FL_RF) === 0) {
      const hit = c.dbg.matchExec(startRip);
      if (hit !== 0) {
        this.raise(c, new CpuFault(VEC_DB), hit);
        return;
      }
    }
    const tf = (fl & FL_TF) !== 0;
    c.pendingDr6 = 0;
    try {
      const ins = decodeAt(this.mem, startRip);
      c.rip = ins.next;
      ins.exec(c);
      c.retired++;
    } catch (e) {
      c.flags.sys &= ~FL_RF;
      this.fault(c, e, startRip);
      return;
    }
    c.flags.sys &= ~FL_RF; // RF clears after any instruction completes
    const dr6 = c.pendingDr6 | (tf ? DR6_BS : 0);
    c.pendingDr6 = 0;
    if (dr6 !== 0) this.raise(c, new CpuFault(VEC_DB, undefined, 0, true), dr6);
  }

  private fault(c: Cpu, e: unknown, startRip: number): void {
    if (!(e instanceof CpuFault)) {
      c.rip = startRip;
      c.dead = true;
      this.log.push({ time: this.now, cpu: c.id, kind: 'internal-error', detail: String(e instanceof Error ? e.stack : e) });
      this.stopFlag = true;
      return;
    }
    if (e.trap) c.retired++;
    else c.rip = startRip;
    this.raise(c, e);
  }

  /** Instruction at an address, decoded (for the debugger's stepping logic). */
  instructionAt(addr: number): BoundInstr {
    return decodeAt(this.mem, addr);
  }
}

function fnv(h: number, v: number): number {
  h ^= v & 0xff; h = Math.imul(h, 0x01000193);
  h ^= (v >>> 8) & 0xff; h = Math.imul(h, 0x01000193);
  h ^= (v >>> 16) & 0xff; h = Math.imul(h, 0x01000193);
  h ^= (v >>> 24) & 0xff; h = Math.imul(h, 0x01000193);
  return h >>> 0;
}

export function hex(n: number): string {
  return '0x' + BigInt.asUintN(64, BigInt(n)).toString(16);
}
