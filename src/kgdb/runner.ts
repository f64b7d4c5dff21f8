// Runs the machine on Node's event loop in slices, so packets (Ctrl-C) are
// read between slices. When serving, virtual time is paced to wall time since
// the last resume: an idle machine then sleeps instead of fast-forwarding
// through ticks, costing almost no host CPU. Pacing decides only *when* the
// host runs the machine, never what it computes (rounds are never cut by the
// slice limit), so traces stay a function of the inputs.

import type { Machine } from '../target/machine.js';
import type { DebugCore } from './debug-core.js';

/** Instructions per slice: about a millisecond of host time. */
export const SLICE_INSNS = 200_000;

export class Runner {
  private pending: NodeJS.Immediate | NodeJS.Timeout | null = null;
  private wallBase = performance.now();
  private virtBase = 0;
  private stoppedForGood = false;

  constructor(
    private readonly machine: Machine,
    private readonly core: DebugCore,
    private readonly paced = true,
  ) {
    this.virtBase = machine.now;
  }

  /** (Re)start running after a resume. */
  kick(): void {
    this.wallBase = performance.now();
    this.virtBase = this.machine.now;
    this.schedule(0);
  }

  stop(): void {
    this.stoppedForGood = true;
    this.cancel();
  }

  private cancel(): void {
    if (this.pending !== null) {
      clearTimeout(this.pending as NodeJS.Timeout);
      clearImmediate(this.pending as NodeJS.Immediate);
      this.pending = null;
    }
  }

  private schedule(delayMs: number): void {
    this.cancel();
    if (this.stoppedForGood) return;
    this.pending = delayMs <= 0 ? setImmediate(() => this.slice()) : setTimeout(() => this.slice(), delayMs);
  }

  private slice(): void {
    this.pending = null;
    const core = this.core;
    if (core.state === 'entering') core.completeEntry();
    if (core.state === 'stopped') return;
    const m = this.machine;
    const limit = this.paced ? this.virtBase + (performance.now() - this.wallBase) * 1e6 : Infinity;
    if (m.now >= limit) {
      this.schedule(this.untilNextEvent(limit));
      return;
    }
    const r = m.run(limit, SLICE_INSNS);
    // The run may have trapped into the debugger: finish the roundup now.
    if (this.core.state !== 'running') {
      this.core.completeEntry();
      return;
    }
    // 'stopped' while the debug core still thinks the machine runs: every CPU is
    // held outside the debugger (e.g. the legacy watchdog self-deadlock keeps
    // its CPUs frozen). Nothing can change until a debugger acts: back off.
    if (r === 'idle-forever' || r === 'stopped') this.schedule(20);
    else if (r === 'limit') this.schedule(this.untilNextEvent(limit));
    else this.schedule(0);
  }

  /**
   * Caught up with wall time: sleep until the virtual time of the next event
   * (a timer tick, an IPI) comes due in wall time, so an idle machine wakes
   * at most once per tick period (10 ms: idle CPUs' ticks are batched, so the
   * machine may run up to a tick behind wall time while idle) instead of
   * polling. Busy CPUs are never more than a millisecond behind.
   */
  private untilNextEvent(limit: number): number {
    const m = this.machine;
    const busy = m.cpus.some((c) => !c.halted && !c.frozen && !c.dead);
    if (busy) return 1;
    const ms = (m.events.peekTime() - limit) / 1e6;
    return Math.min(50, Math.max(10, ms));
  }
}
