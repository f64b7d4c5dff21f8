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

/**
 * How far a single step may run the machine ahead of wall time: the step of an
 * idle CPU's hlt completes at its next interrupt without waiting for it in real
 * time; a step that cannot complete (cli; hlt) falls back to pacing after this.
 */
export const STEP_AHEAD_NS = 2e9;

/** How long the host sleeps between runs while every CPU idles. */
export const IDLE_BATCH_MS = 100;

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
    // A step usually completes within the first slice: run it now rather than
    // after an event-loop turn, so its stop reply leaves with the same wake-up.
    if (this.core.stepping && !this.stoppedForGood) {
      this.cancel();
      this.slice();
    } else {
      this.schedule(0);
    }
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
    // A step is not paced (up to STEP_AHEAD_NS): stepping an idle CPU's hlt must
    // not wait for its next tick in wall time, nor a stepped sleeping task for
    // its wakeup. The next resume re-bases pacing at the then virtual time.
    const ahead = core.stepping ? STEP_AHEAD_NS : 0;
    const limit = this.paced ? this.virtBase + (performance.now() - this.wallBase) * 1e6 + ahead : Infinity;
    if (m.now >= limit) {
      this.schedule(this.untilNextEvent());
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
    else if (r === 'limit') this.schedule(this.untilNextEvent());
    else this.schedule(0);
  }

  /**
   * Caught up with wall time: when to look again. Busy CPUs are never more
   * than a millisecond behind. When every CPU idles (hlt), the host sleeps
   * IDLE_BATCH_MS and then runs the ticks that came due meanwhile in one
   * batch: a wake costs far more than a tick (a cold host cache, ~140 us
   * against ~30 us hot), so 10 wakes a second instead of 100 (one per tick) is
   * what keeps an idle served machine under 2% of a host core. Only the
   * mapping to wall time is coarser (virtual time lags wall time by at most
   * the batch while idle); what the machine computes is unchanged, and a
   * Ctrl-C first catches up (catchUp) so it stops the machine "now".
   */
  private untilNextEvent(): number {
    const busy = this.machine.cpus.some((c) => !c.halted && !c.frozen && !c.dead);
    return busy ? 1 : IDLE_BATCH_MS;
  }

  /**
   * Run the machine up to the present wall time (paced only), synchronously:
   * an asynchronous stop (Ctrl-C) then happens at the virtual time that
   * corresponds to when it arrived, not up to a batch earlier. A CPU that
   * traps into the debugger on the way ends the catch-up (its stop wins).
   */
  catchUp(): void {
    if (!this.paced || this.core.state !== 'running') return;
    // Bounded host work whatever the CPU count: an idle machine's lag is a
    // batch of ticks, a busy one is never more than a slice behind.
    this.machine.run(this.virtBase + (performance.now() - this.wallBase) * 1e6, 4 * SLICE_INSNS);
  }

}
