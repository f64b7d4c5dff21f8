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
      this.schedule(Math.min(10, Math.max(1, (m.events.peekTime() - m.now) / 1e6)));
      return;
    }
    const r = m.run(limit, SLICE_INSNS);
    // The run may have trapped into the debugger: finish the roundup now.
    if (this.core.state !== 'running') {
      this.core.completeEntry();
      return;
    }
    if (r === 'idle-forever') this.schedule(20);
    else if (r === 'limit') this.schedule(1);
    else this.schedule(0);
  }
}
