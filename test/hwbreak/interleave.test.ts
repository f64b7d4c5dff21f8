// THE interleaving test (issue 4, seed 001 patch 2): freeze the machine at
// every instruction boundary inside reserve_bp_slot and release_bp_slot on the
// CPU running the perf thread (it holds nr_bp_mutex for most of them) and, at
// each point, let the debugger reserve and release. The debugger must never
// block (no virtual time passes, no instruction runs), never over-commit a
// CPU's four slots, and after resume the perf side must finish its cycle with
// consistent counts. Exhaustive for 2 CPUs: every boundary of both paths.

import { describe, expect, it } from 'vitest';
import { HBP_NUM, HBP_OWNER, PCPU, PERCPU_STRIDE } from '../../src/kernel/layout.js';
import { ENOSPC } from '../../src/rsp/target.js';
import { expectConsistent, pcpu, setU32, slots, symN, SyncSim, u32 } from './sim.js';

const CPUS = 2;

/** Addresses nobody writes (the per-CPU area of a CPU that is not online): the debugger's watchpoints. */
const dummy = (i: number): number => symN('per_cpu_area') + 200 * PERCPU_STRIDE + 8 * i;

function perfStats(s: SyncSim): { registered: number; failed: number; cycles: number; mismatch: number; installFailed: number } {
  const r = (n: string): number => u32(s.m.mem, symN(n));
  return {
    registered: r('perf_bp_registered'),
    failed: r('perf_bp_failed'),
    cycles: r('perf_bp_cycles'),
    mismatch: r('perf_bp_mismatch'),
    installFailed: r('hw_bp_install_failed'),
  };
}

/**
 * The debugger takes every slot it can get (Z2 len 8 on distinct words) while
 * the machine is frozen. Returns how many it got; asserts it never waited and
 * never got more than every CPU's counter allowed.
 */
function greedy(s: SyncSim): number {
  const before = slots(s.m).map((x) => x.free);
  const now = s.m.now;
  const retired = s.m.cpus.map((c) => c.retired);
  const expected = Math.max(0, Math.min(HBP_NUM - s.hw.inUse, ...before));
  let got = 0;
  for (;;) {
    const err = s.hw.insert('write', dummy(got), 8);
    if (err !== undefined) {
      expect(err).toBe(ENOSPC);
      break;
    }
    got++;
    expect(got).toBeLessThanOrEqual(HBP_NUM);
  }
  // never blocks: not one instruction ran, no time passed
  expect(s.m.now).toBe(now);
  expect(s.m.cpus.map((c) => c.retired)).toEqual(retired);
  // never over-commits: exactly what every CPU's counter allowed
  expect(got).toBe(expected);
  const after = slots(s.m).map((x) => x.free);
  after.forEach((v, c) => expect(v, `CPU${c}`).toBe(before[c]! - got));
  return got;
}

function releaseAll(s: SyncSim, got: number): void {
  const before = slots(s.m).map((x) => x.free);
  for (let i = got - 1; i >= 0; i--) expect(s.hw.remove('write', dummy(i), 8)).toBeUndefined();
  expect(s.hw.inUse).toBe(0);
  slots(s.m).forEach((x, c) => expect(x.free).toBe(before[c]! + got));
}

interface Coverage {
  boundaries: number;
  withMutexHeld: number;
  debuggerGotSlotWhileMutexHeld: number;
  perfFailedBecauseOfDebugger: number;
  perfSucceededAlongsideDebugger: number;
}

type PerfPath = 'reserve_bp_slot' | 'release_bp_slot' | 'arch_install_hw_breakpoint' | 'arch_uninstall_hw_breakpoint';

function exhaust(s: SyncSim, fnName: PerfPath): Coverage {
  const cov: Coverage = { boundaries: 0, withMutexHeld: 0, debuggerGotSlotWhileMutexHeld: 0, perfFailedBecauseOfDebugger: 0, perfSucceededAlongsideDebugger: 0 };
  for (let k = 0; ; k++) {
    expect(k, 'path length').toBeLessThan(2000);
    if (process.env.HWDBG) console.error(fnName, k, s.m.now);
    const cpu = s.runTo(fnName);
    const c = s.m.cpus[cpu]!;
    const rsp0 = c.addrOf(4);
    const ret = Number(BigInt.asIntN(64, s.m.mem.peek64(rsp0)!));
    let returned = false;
    // Boundaries 0..k-1 of this call: reserve and release at once (debugger holds nothing across resume).
    for (let j = 0; j < k; j++) {
      const got = greedy(s);
      if (u32(s.m.mem, symN('nr_bp_mutex')) !== 0) {
        cov.withMutexHeld++;
        if (got > 0) cov.debuggerGotSlotWhileMutexHeld++;
      }
      releaseAll(s, got);
      s.step(cpu);
      if (c.rip === ret && c.addrOf(4) === rsp0 + 8) {
        returned = true;
        break;
      }
    }
    if (returned) {
      // k is past the end of the path: every boundary has been visited. Let the cycle finish.
      s.runTo('perf_bp_cycle_done');
      expectConsistent(s.m, s.hw);
      break;
    }
    cov.boundaries++;
    // Boundary k: the debugger keeps what it got across a resume.
    const before = perfStats(s);
    const got = greedy(s);
    expectConsistent(s.m, s.hw);
    s.runTo('perf_bp_cycle_done');
    const after = perfStats(s);
    expect(after.cycles, 'the perf cycle in progress finished').toBe(before.cycles + 1);
    expect(after.mismatch, 'perf counted every write it made').toBe(0);
    expect(after.installFailed, 'perf always found its reserved slot free').toBe(0);
    expect(s.hw.installFailures, 'the debugger always found its reserved slots free').toBe(0);
    if (fnName === 'reserve_bp_slot') {
      const ok = after.registered - before.registered;
      const failed = after.failed - before.failed;
      expect(ok + failed).toBe(1);
      // perf loses exactly when the debugger took all four; never both four and perf's one
      expect(failed === 1, `G=${got}`).toBe(got === HBP_NUM);
      expect(ok + got).toBeLessThanOrEqual(HBP_NUM);
      if (failed) cov.perfFailedBecauseOfDebugger++;
      else if (got > 0) cov.perfSucceededAlongsideDebugger++;
    } else if (fnName === 'release_bp_slot') {
      expect(after.registered).toBe(before.registered);
      expect(got).toBeGreaterThanOrEqual(HBP_NUM - 1);
    } else {
      // inside perf's install/uninstall IPI handler on one CPU: perf holds its reservation
      expect(got).toBe(HBP_NUM - 1);
    }
    expect(s.incoherent, 'DR7 == cpu_dr7 at every entry').toEqual([]);
    // perf is between cycles (nothing pinned): the counters show just the debugger
    expect(u32(s.m.mem, symN('nr_bp_mutex'))).toBe(0);
    for (const x of slots(s.m)) {
      expect(x.pinned).toBe(0);
      expect(x.free).toBe(HBP_NUM - got);
      expect(x.owners.filter((o) => o === HBP_OWNER.PERF)).toHaveLength(0);
    }
    expectConsistent(s.m, s.hw);
    s.hw.removeAll();
    for (const x of slots(s.m)) expect(x.free).toBe(HBP_NUM);
  }
  return cov;
}

describe('lockless reservation vs. a CPU frozen inside reserve_bp_slot / release_bp_slot (2 CPUs, exhaustive)', () => {
  const s = new SyncSim(CPUS, 7);
  // A short perf period so each boundary costs one short cycle; writes back to back.
  s.m.run(50_000_000);
  setU32(s.m.mem, symN('perf_bp_period_ms'), 1);
  setU32(s.m.mem, symN('perf_bp_gap_ms'), 0);

  it('reserve_bp_slot: every boundary', () => {
    const cov = exhaust(s, 'reserve_bp_slot');
    expect(cov.boundaries).toBeGreaterThan(30);
    // the interesting states were really reached
    expect(cov.withMutexHeld).toBeGreaterThan(20);
    expect(cov.debuggerGotSlotWhileMutexHeld).toBeGreaterThan(20);
    expect(cov.perfFailedBecauseOfDebugger).toBeGreaterThan(0);
    expect(cov.perfSucceededAlongsideDebugger).toBeGreaterThan(0);
  });

  it('release_bp_slot: every boundary', () => {
    const cov = exhaust(s, 'release_bp_slot');
    expect(cov.boundaries).toBeGreaterThan(20);
    expect(cov.debuggerGotSlotWhileMutexHeld).toBeGreaterThan(10);
  });

  it('arch_install_hw_breakpoint (perf install IPI): every boundary, debugger takes the other three slots', () => {
    const cov = exhaust(s, 'arch_install_hw_breakpoint');
    expect(cov.boundaries).toBeGreaterThan(20);
  });

  it('arch_uninstall_hw_breakpoint (perf uninstall IPI): every boundary', () => {
    const cov = exhaust(s, 'arch_uninstall_hw_breakpoint');
    expect(cov.boundaries).toBeGreaterThan(15);
  });

  it('afterwards perf registers again and nothing leaked', () => {
    const before = u32(s.m.mem, symN('perf_bp_registered'));
    s.runTo('perf_bp_armed');
    expect(u32(s.m.mem, symN('perf_bp_registered'))).toBe(before + 1);
    for (const x of slots(s.m)) {
      expect(x.free).toBe(HBP_NUM - 1);
      expect(x.pinned).toBe(1);
      expect(x.owners.filter((o) => o === HBP_OWNER.PERF)).toHaveLength(1);
    }
    s.runTo('perf_bp_cycle_done');
    for (const x of slots(s.m)) expect(x.free).toBe(HBP_NUM);
    expect(u32(s.m.mem, pcpu(0, PCPU.dbg_slots_pinned))).toBe(HBP_NUM);
    expect(u32(s.m.mem, symN('perf_bp_mismatch'))).toBe(0);
  });
});
