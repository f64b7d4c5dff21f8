// Issue 5: `kgdb-sim run --scenario … --legacy … --json` (the events array),
// the option checks, and `monitor watchdog` / `monitor dmesg` on a served
// machine left stopped inside the watchdog by `serve --scenario stop-in-watchdog`.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildKernelImage } from '../../src/kernel/image.js';
import { symbolAddr } from '../../src/kernel/link.js';
import { canon } from '../../src/system.js';
import { type CpuPlan, SIGINT } from '../../src/kgdb/debug-core.js';
import { runWithCore, scenarioClock } from '../../src/kgdb/scenarios.js';
import { parseLegacy } from '../../src/kgdb/watchdog-touch.js';
import { runCommand, type RunReport } from '../../src/run.js';
import { startServer, type Sim } from '../../src/server.js';
import { UsageError } from '../../src/cli-options.js';

function runJson(args: string[]): { code: number; report: RunReport } {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    const code = runCommand([...args, '--json']);
    return { code, report: JSON.parse(out) as RunReport };
  } finally {
    spy.mockRestore();
  }
}

describe('kgdb-sim run --scenario --legacy --json', () => {
  it('long-pause + softlockup-nosync: the events array holds the false soft lockups with CPU and virtual time', () => {
    const { code, report } = runJson(['--scenario', 'long-pause', '--legacy', 'softlockup-nosync', '--cpus', '2', '--for', '3s']);
    expect(code).toBe(0);
    expect(report.scenario).toMatchObject({ name: 'long-pause', legacy: ['softlockup-nosync'], held_ns: 80e9, wedged: false });
    const sl = report.events.filter((e) => e.kind === 'soft-lockup');
    expect(sl.map((e) => e.cpu).sort()).toEqual([0, 1]);
    for (const e of sl) {
      expect(typeof e.time).toBe('number');
      expect(e.time).toBeGreaterThan(report.scenario!.stopped_at);
      expect(e.detail).toMatch(/stuck for 80s/);
    }
    expect(report.virtual_ns).toBeGreaterThanOrEqual(report.scenario!.stopped_at + 3e9);
  });

  it('long-pause, fixed: no problem events at all', () => {
    const { report } = runJson(['--scenario', 'long-pause', '--cpus', '2', '--for', '3s']);
    expect(report.events.filter((e) => e.kind !== 'kgdb-resume')).toEqual([]);
    expect(report.events.filter((e) => e.kind === 'kgdb-resume')).toHaveLength(1);
  });

  it('stop-in-watchdog + clocksource-spinlock: the deadlock is reported and run still finishes', () => {
    const { report } = runJson(['--scenario', 'stop-in-watchdog', '--legacy', 'clocksource-spinlock', '--cpus', '2']);
    const dl = report.events.filter((e) => e.kind === 'deadlock');
    expect(dl.some((e) => e.self === true && e.cpu === report.scenario!.stop_cpu)).toBe(true);
    expect(report.scenario!.wedged).toBe(true);
    expect(report.scenario!.stuck_cpus).toEqual([0, 1]);
  });

  it('a plain run has an (empty) events array', () => {
    const { report } = runJson(['--cpus', '2', '--for', '1s']);
    expect(report.events).toEqual([]);
    expect(report.scenario).toBeUndefined();
  });

  it('rejects unknown toggles and scenarios, and --legacy without --scenario', () => {
    expect(() => runCommand(['--scenario', 'long-pause', '--legacy', 'bogus'])).toThrow(/unknown --legacy toggle "bogus"/);
    expect(() => runCommand(['--scenario', 'nap'])).toThrow(/unknown --scenario "nap"/);
    expect(() => runCommand(['--legacy', 'softlockup-nosync'])).toThrow(UsageError);
    expect(() => parseLegacy('clocksource-spinlock, softlockup-nosync')).not.toThrow();
  });
});

describe('serve --scenario stop-in-watchdog: monitor watchdog and monitor dmesg', () => {
  let sim: Sim | null = null;
  afterEach(() => {
    sim?.stop();
    sim = null;
  });

  it('the machine waits stopped inside clocksource_watchdog; the resume skips the touch and says so', () => {
    const image = buildKernelImage();
    sim = startServer({ image, cpus: 4, seed: 3, clock: scenarioClock('stop-in-watchdog'), wire: 'modern', log: () => {}, paced: false, scenario: 'stop-in-watchdog' });
    sim.stop(); // drive it by hand
    const { core, target, machine } = sim;
    expect(core.state).toBe('stopped');
    const holder = core.entry!.cpu;
    expect(machine.cpus[holder]!.rip).toBe(canon(symbolAddr(image, 'acpi_pm_read')));
    let mon = target.monitor('watchdog');
    expect(mon).toContain(`watchdog_lock: held by CPU${holder}`);
    expect(mon).toMatch(/tsc: stable/);
    expect(mon).toMatch(/CPU0: touch_ts (\d+ s|0 \(re-arm at next tick\)), print_ts 0 s, sync 0/);
    expect(target.monitor('help')).toMatch(/watchdog/);

    core.resume(machine.cpus.map((): CpuPlan => 'continue'));
    // right after the resume: every CPU was asked to sync its sched clock at its next tick
    mon = target.monitor('watchdog');
    expect(mon).toMatch(/CPU1: touch_ts 0 \(re-arm at next tick\), print_ts 0 s, sync 1/);
    expect(runWithCore(core, machine.now + 1e9).wedged).toBe(false);
    core.stopNow(SIGINT);
    mon = target.monitor('watchdog');
    expect(mon).toContain('watchdog_lock: free');
    expect(mon).toMatch(/tsc: UNSTABLE/);
    expect(mon).toMatch(new RegExp(`CPU${holder} watchdog-touch-skipped: watchdog_lock held by CPU${holder}`));
    expect(mon).toMatch(/sync 0/);
    const dmesg = target.monitor('dmesg');
    expect(dmesg).toContain(`kgdb: CPU0: clocksource_touch_watchdog: watchdog_lock held by CPU${holder}, watchdog not reset`);
    expect(dmesg).toMatch(/Clocksource tsc unstable \(delta = \d+ ns\)/);
    expect(target.monitor('kgdb')).toMatch(/trylock failed, clocksource watchdog not reset/);
  });

  it('legacy clocksource-spinlock: monitor watchdog shows the CPUs deadlocked in the resume path', () => {
    const image = buildKernelImage();
    sim = startServer({ image, cpus: 2, seed: 3, clock: { kind: 'none' }, wire: 'modern', log: () => {}, paced: false, scenario: 'stop-in-watchdog', legacy: parseLegacy('clocksource-spinlock') });
    sim.stop();
    const { core, target, machine } = sim;
    const holder = core.entry!.cpu;
    core.resume(machine.cpus.map((): CpuPlan => 'continue'));
    expect(runWithCore(core, machine.now + 1e8).wedged).toBe(true);
    core.stopNow(SIGINT); // Ctrl-C still works on a wedged machine
    expect(core.state).toBe('stopped');
    const mon = target.monitor('watchdog');
    expect(mon).toMatch(new RegExp(`CPU${holder}: .*DEADLOCKED in the resume path`));
    expect(mon).toMatch(/self-deadlock: CPU\d spins on watchdog_lock/);
    expect(mon).toContain(`watchdog_lock: held by CPU${holder}`);
    // a second resume does not un-stick them, nor report them twice
    core.resume(machine.cpus.map((): CpuPlan => 'continue'));
    expect(machine.cpus.every((c) => c.frozen)).toBe(true);
    expect(sim.watchdog.events().filter((e) => e.kind === 'deadlock')).toHaveLength(2);
  });
});

describe('legacy clocksource-spinlock with the holder kept in the debugger (gdb scheduler-locking)', () => {
  it('the others spin behind it (not yet a deadlock); when the holder leaves it self-deadlocks and takes them along', () => {
    const image = buildKernelImage();
    const sim = startServer({ image, cpus: 2, seed: 3, clock: { kind: 'none' }, wire: 'modern', log: () => {}, paced: false, scenario: 'stop-in-watchdog', legacy: parseLegacy('clocksource-spinlock') });
    sim.stop();
    const { core, machine } = sim;
    const holder = core.entry!.cpu;
    const other = 1 - holder;
    core.resume(machine.cpus.map((c): CpuPlan => (c.id === holder ? 'hold' : 'continue')));
    expect(sim.watchdog.stuckCpus()).toEqual([other]);
    expect(sim.watchdog.events().filter((e) => e.kind === 'deadlock')).toEqual([]);
    expect(sim.target.monitor('watchdog')).toMatch(new RegExp(`CPU${other}: .*SPINNING on watchdog_lock`));
    expect(runWithCore(core, machine.now + 1e8).wedged).toBe(true); // one held, one spinning
    core.stopNow(SIGINT);
    core.resume(machine.cpus.map((): CpuPlan => 'continue'));
    const dl = sim.watchdog.events().filter((e) => e.kind === 'deadlock');
    expect(dl.map((e) => [e.cpu, e.self])).toEqual([[holder, true], [other, false]]);
    sim.stop();
  });

  it('fixed: the same plan just skips the touch on each CPU, and both run on', () => {
    const image = buildKernelImage();
    const sim = startServer({ image, cpus: 2, seed: 3, clock: { kind: 'none' }, wire: 'modern', log: () => {}, paced: false, scenario: 'stop-in-watchdog' });
    sim.stop();
    const { core, machine } = sim;
    const holder = core.entry!.cpu;
    core.resume(machine.cpus.map((c): CpuPlan => (c.id === holder ? 'hold' : 'continue')));
    expect(runWithCore(core, machine.now + 1e8).wedged).toBe(false);
    core.stopNow(SIGINT);
    core.resume(machine.cpus.map((): CpuPlan => 'continue'));
    expect(runWithCore(core, machine.now + 1e8).wedged).toBe(false);
    // the other CPU skips at both resumes (the held holder still has the lock), the holder at the second
    expect(sim.watchdog.events().filter((e) => e.kind === 'watchdog-touch-skipped').map((e) => e.cpu)).toEqual([1 - holder, 1 - holder, holder]);
    expect(sim.watchdog.stuckCpus()).toEqual([]);
    sim.stop();
  });
});

describe('virtual time stays integral (the kernel reads the TSC every tick)', () => {
  it('a fractional run limit on an idle stretch does not break rdtsc', () => {
    const image = buildKernelImage();
    const sim = startServer({ image, cpus: 2, seed: 1, clock: { kind: 'none' }, wire: 'modern', log: () => {}, paced: false });
    sim.stop();
    const m = sim.machine;
    // The runner paces with fractional limits (wall-clock ms × 1e6); an idle machine jumps to them.
    for (let i = 0; i < 200; i++) m.run(m.now + 1234567.891);
    expect(Number.isInteger(m.now)).toBe(true);
    expect(m.log.filter((e) => e.kind === 'internal-error')).toEqual([]);
    expect(m.cpus.some((c) => c.dead)).toBe(false);
  });
});
