// The debug core: how the machine is stopped and restarted for a debugger,
// after Linux kernel/debug/debug_core.c (kgdb_cpu_enter, kgdb_roundup_cpus,
// kgdb_nmicallback). It knows nothing of gdb's protocol.
//
// Entry: a CPU that traps (int3, single-step, a debugger stop request)
//   becomes the master (dbg_master_lock, kgdb_active = cpu). It rounds up
//   every other CPU with an NMI; each slave enters the wait loop (here: the
//   CPU is frozen) and is counted in slaves_in_kgdb. The master waits until
//   masters + slaves == online CPUs, or until the roundup times out, in which
//   case the missing CPUs are reported ("Timed out waiting for secondary CPUs").
// Queueing: a CPU that traps while another is master waits (DCPU_WANT_MASTER)
//   and becomes master in turn after the next resume.
// Resume: software breakpoints are re-armed, the slaves released, hardware
//   breakpoints re-installed, and each CPU leaving calls the watchdog hooks.

import { join64, type Cpu } from '../target/cpu.js';
import { VEC_BP, VEC_DB, VEC_NMI } from '../target/fault.js';
import { DR6_BS } from '../target/debugregs.js';
import { type Machine, VEC_HOST_BREAK } from '../target/machine.js';
import { FL_RF, FL_TF } from '../target/x86/flags.js';
import { SwBreakpoints } from './swbreak.js';

/** Roundup timeout in virtual time (Linux waits about a second). */
export const ROUNDUP_TIMEOUT_NS = 1_000_000_000;

export const SIGINT = 2;
export const SIGILL = 4;
export const SIGTRAP = 5;

export interface Entry {
  cpu: number;
  vector: number; // VEC_BP, VEC_DB, or -1 for a host stop request (Ctrl-C, `?`)
  dr6: number;
  signal: number;
  /** Software breakpoint address when the trap was one of ours. */
  swbreakAt?: number;
}

export type CpuPlan = 'continue' | 'step' | 'hold';

/** Things the resume path calls on every CPU leaving the debugger (watchdog touches, hw breakpoints). */
export interface ResumeHooks {
  /**
   * A CPU enters the debugger (as master or slave): e.g. disable its hardware breakpoints.
   * `entry` is the trap that brought it in (a master or a queued would-be master); undefined
   * for a slave rounded up by NMI.
   */
  cpuEnter?(cpu: Cpu, entry?: Entry): void;
  /** A CPU leaves the debugger. `heldNs` is how much hardware time the stop added. */
  cpuLeave?(cpu: Cpu, heldNs: number): void;
  /** A #DB that is not the debugger's own (e.g. a perf watchpoint): true if it is somebody else's. */
  foreignDebugTrap?(cpu: Cpu, dr6: number): boolean;
  /** The debugger's own #DB reason for a stop (hw breakpoint / watchpoint), if any. */
  log?(line: string): void;
}

export type CoreState = 'running' | 'entering' | 'stopped';

export class DebugCore {
  state: CoreState = 'running';
  /** kgdb_active: the master CPU, or -1. */
  master = -1;
  /** The entry that made the current stop. */
  entry: Entry | null = null;
  /** CPUs that trapped while another CPU was master (DCPU_WANT_MASTER), in arrival order. */
  private readonly waiting: Entry[] = [];
  /** CPUs that did not answer the last roundup. */
  notResponding: number[] = [];
  private roundupDeadline = 0;
  /** CPU we set TF on for a single step, or -1. */
  private stepCpu = -1;
  private stoppedAtWall = 0;
  /** gdb negotiated swbreak: report the breakpoint address itself instead of address+1. */
  reportSwbreakAddress = false;
  readonly sw: SwBreakpoints;
  /**
   * A step of a task that was on no CPU: the address where it resumes and how to
   * recognise it. The machine runs until that task is back on a CPU there, then
   * that CPU steps one instruction (see stepWhenScheduled).
   */
  private schedStep: { addr: number; isTask: (cpu: Cpu) => boolean } | null = null;
  /** Called once each time an entry completes (every CPU is in or timed out). */
  onStopped: ((e: Entry) => void) | null = null;
  readonly log: string[] = [];

  constructor(
    readonly machine: Machine,
    readonly hooks: ResumeHooks = {},
  ) {
    this.sw = new SwBreakpoints(machine.mem);
    machine.interceptor = (cpu, vector, dr6) => this.intercept(cpu, vector, dr6);
  }

  private say(line: string): void {
    this.log.push(line);
    if (this.log.length > 200) this.log.shift();
    this.hooks.log?.(line);
  }

  /** The machine's die-notifier hook: int3, #DB and NMI come here first. */
  private intercept(cpu: Cpu, vector: number, dr6: number): boolean {
    if (vector === VEC_HOST_BREAK) {
      const s = this.schedStep;
      if (s === null || this.state !== 'running') return false;
      if (s.isTask(cpu)) {
        // The task is back on a CPU where it went to sleep: now step it.
        this.cancelScheduledStep();
        cpu.flags.sys |= FL_TF;
        this.stepCpu = cpu.id;
      }
      // Let the instruction run (RF suppresses execute breakpoints once, as on hardware).
      cpu.flags.sys |= FL_RF;
      return true;
    }
    if (vector === VEC_NMI) {
      // kgdb_nmicallback: only an NMI that arrives during a roundup is ours.
      if (this.state === 'running') return false;
      this.freeze(cpu);
      return true;
    }
    let signal = SIGTRAP;
    let swbreakAt: number | undefined;
    if (vector === VEC_DB) {
      const stepping = (dr6 & DR6_BS) !== 0 && cpu.id === this.stepCpu;
      const ownHw = (dr6 & 0xf) !== 0 && !(this.hooks.foreignDebugTrap?.(cpu, dr6) ?? false);
      if (!stepping && !ownHw) return false;
    } else if (vector === VEC_BP) {
      const at = cpu.rip - 1;
      if (this.sw.has(at)) swbreakAt = at;
    } else {
      return false;
    }
    const e: Entry = { cpu: cpu.id, vector, dr6, signal, swbreakAt };
    this.freeze(cpu, e);
    if (this.state === 'running') this.beginEntry(e);
    else this.waiting.push(e);
    return true;
  }

  private freeze(cpu: Cpu, e?: Entry): void {
    if (cpu.frozen) return;
    cpu.frozen = true;
    this.hooks.cpuEnter?.(cpu, e);
  }

  /** Become master and round up the others (kgdb_roundup_cpus: an NMI to each). */
  private beginEntry(e: Entry): void {
    this.state = 'entering';
    this.master = e.cpu;
    this.entry = e;
    this.roundupDeadline = this.machine.now + ROUNDUP_TIMEOUT_NS;
    // End the round here: the slaves take the NMI within its latency instead of
    // finishing their quanta first.
    this.machine.requestStop();
    for (const c of this.machine.cpus) if (!c.frozen && !c.dead) this.machine.sendNmi(c.id);
    this.pollEntry();
  }

  /** All CPUs are in the debugger (frozen or dead). */
  private allIn(): boolean {
    for (const c of this.machine.cpus) if (!c.frozen && !c.dead) return false;
    return true;
  }

  /**
   * Progress an entry after the machine ran: complete it when every CPU is in
   * or the roundup timed out. Returns true when the machine is now stopped.
   */
  pollEntry(): boolean {
    if (this.state !== 'entering') return this.state === 'stopped';
    const timedOut = this.machine.now >= this.roundupDeadline;
    if (!this.allIn() && !timedOut) return false;
    this.notResponding = this.machine.cpus.filter((c) => !c.frozen && !c.dead).map((c) => c.id);
    if (this.notResponding.length > 0) {
      this.say(`KGDB: Timed out waiting for secondary CPUs: ${this.notResponding.join(',')} not stopped`);
      // They are held from here on (the simulator runs nothing while the debugger talks),
      // but are reported as not having answered the roundup.
      for (const id of this.notResponding) this.machine.cpus[id].frozen = true;
    }
    this.finishEntry();
    return true;
  }

  /** Drive the machine synchronously until the entry completes (used for host stop requests). */
  completeEntry(): void {
    while (this.state === 'entering') {
      const r = this.machine.run(this.roundupDeadline + 1);
      if (this.pollEntry()) break;
      if (r === 'idle-forever' || r === 'limit') {
        this.machine.now = Math.max(this.machine.now, this.roundupDeadline);
      }
    }
  }

  private finishEntry(): void {
    const e = this.entry!;
    this.state = 'stopped';
    this.cancelScheduledStep(); // any stop ends a pending "step when scheduled"
    this.stoppedAtWall = performance.now();
    if (this.stepCpu >= 0) {
      this.machine.cpus[this.stepCpu].flags.sys &= ~FL_TF;
      this.stepCpu = -1;
    }
    this.sw.deactivate();
    const cpu = this.machine.cpus[e.cpu];
    // x86 reports the int3 trap with RIP after the 0xCC; gdb rewinds unless it asked the stub to (swbreak).
    if (e.swbreakAt !== undefined && this.reportSwbreakAddress) cpu.rip = e.swbreakAt;
    this.onStopped?.(e);
  }

  /** Stop a running machine from the host (Ctrl-C, a new debugger's `?`). Synchronous. */
  stopNow(signal: number): void {
    if (this.state !== 'running') {
      this.completeEntry();
      return;
    }
    const cpu = this.machine.cpus.find((c) => !c.dead && !c.frozen) ?? this.machine.cpus[0];
    // The break-in is an interrupt on this CPU: like any interrupt it ends a hlt
    // (rip is already past it), so a step after the stop executes the next instruction.
    cpu.halted = false;
    this.freeze(cpu);
    this.beginEntry({ cpu: cpu.id, vector: -1, dr6: 0, signal });
    this.completeEntry();
  }

  /**
   * Leave the debugger. `plans[cpu]` says what each CPU does: continue, step
   * (one instruction, TF), or hold (stay in the debugger's wait loop).
   */
  resume(plans: CpuPlan[]): void {
    if (this.state !== 'stopped') return;
    const heldWallMs = performance.now() - this.stoppedAtWall;
    const heldNs = this.machine.accountStop(heldWallMs);
    this.sw.activate();
    const e = this.entry;
    this.state = 'running';
    this.master = -1;
    this.entry = null;
    const queued = new Set(this.waiting.map((w) => w.cpu));
    for (const c of this.machine.cpus) {
      const plan = plans[c.id] ?? 'continue';
      // A CPU queued to become master stays in the debugger: it is handled below.
      if (plan === 'hold' || c.dead || queued.has(c.id)) continue;
      if (plan === 'step') {
        c.flags.sys |= FL_TF;
        this.stepCpu = c.id;
        this.machine.runFirst(c.id);
      }
      // Resuming from a hardware execute breakpoint: RF lets the instruction run once.
      if (e !== null && e.cpu === c.id && e.vector === VEC_DB && (e.dr6 & 0xf) !== 0) c.flags.sys |= FL_RF;
      c.frozen = false;
      c.attention = true;
      this.hooks.cpuLeave?.(c, heldNs);
    }
    // A CPU that trapped while another was master becomes master now.
    while (this.waiting.length > 0 && this.state === 'running') {
      const next = this.waiting.shift()!;
      const cpu = this.machine.cpus[next.cpu];
      if (next.swbreakAt !== undefined && !this.sw.has(next.swbreakAt)) {
        // The breakpoint it hit was removed meanwhile: back up over the int3 and let
        // it run on, unless this resume holds it (it then re-executes when released).
        cpu.rip = next.swbreakAt;
        if ((plans[cpu.id] ?? 'continue') !== 'hold') {
          cpu.frozen = false;
          cpu.attention = true;
          this.hooks.cpuLeave?.(cpu, heldNs);
        }
        continue;
      }
      this.beginEntry(next);
    }
  }

  /**
   * Step a task that is on no CPU: it cannot execute an instruction until the
   * scheduler runs it, so the machine runs (call before resume) until a CPU
   * reaches `addr` (where the task resumes, in schedule()) as that task, and
   * that CPU then steps one instruction. Any stop cancels it.
   */
  stepWhenScheduled(addr: number, isTask: (cpu: Cpu) => boolean): void {
    this.cancelScheduledStep();
    this.schedStep = { addr, isTask };
    this.machine.setHostBreakpoint(addr, true);
  }

  private cancelScheduledStep(): void {
    if (this.schedStep === null) return;
    this.machine.setHostBreakpoint(this.schedStep.addr, false);
    this.schedStep = null;
  }

  /** Remove every breakpoint and let the whole machine run (gdb detached or vanished). */
  detach(): void {
    this.cancelScheduledStep();
    this.sw.clear();
    if (this.state === 'entering') this.completeEntry();
    if (this.state === 'stopped') this.resume(this.machine.cpus.map(() => 'continue'));
  }

  /** A single step is in progress (a CPU has TF set for us, or waits to be scheduled to step). */
  get stepping(): boolean {
    return this.stepCpu >= 0 || this.schedStep !== null;
  }

  get stopWallStart(): number {
    return this.stoppedAtWall;
  }
}

/** Signed canonical number → unsigned bigint (the wire's view of an address). */
export function toU64(addr: number): bigint {
  return BigInt.asUintN(64, BigInt(addr));
}

/** Unsigned bigint from the wire → signed canonical number, or undefined if not canonical. */
export function fromU64(addr: bigint): number | undefined {
  const s = BigInt.asIntN(64, addr);
  if (s < -0x800000000000n || s >= 0x800000000000n) return undefined;
  return Number(s);
}

export { join64 };
