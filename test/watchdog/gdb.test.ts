// Issue 5 through real gdb 13 (batch mode, test/gdb/harness.ts): stop inside
// clocksource_watchdog with a breakpoint, hold, continue, and read
// `monitor dmesg` / `monitor watchdog`; a long pause with and without the
// softlockup sync; and the legacy blocking spin, detected as a deadlock while
// gdb can still interrupt and inspect the machine.

import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { buildKernelImage } from '../../src/kernel/image.js';
import { runWithCore, type ScenarioName } from '../../src/kgdb/scenarios.js';
import { parseLegacy } from '../../src/kgdb/watchdog-touch.js';
import { serveTcp, type TcpServer } from '../../src/rsp/index.js';
import { startServer, type Sim } from '../../src/server.js';
import type { ClockPolicy } from '../../src/target/machine.js';
import { assertCleanWire, mark, monitor, runGdb, section, sleep } from '../gdb/harness.js';

interface Served {
  sim: Sim;
  server: TcpServer;
  remote: string;
  logs: string[];
}

let served: Served | null = null;

async function serve(o: { clock: ClockPolicy; legacy?: string; scenario?: ScenarioName; cpus?: number }): Promise<Served> {
  const logs: string[] = [];
  const log = (l: string): void => void logs.push(l);
  const sim = startServer({
    image: buildKernelImage(), cpus: o.cpus ?? 4, seed: 1, clock: o.clock, wire: 'modern', log, paced: true,
    legacy: parseLegacy(o.legacy), scenario: o.scenario,
  });
  // Boot for 1.5 s first: during the first second the softlockup timestamp (whole seconds) is 0,
  // which means "re-arm" (as in Linux), and the watchdog's first run only takes a baseline.
  runWithCore(sim.core, 1.5e9);
  sim.runner.kick(); // pacing restarts from here
  const server = await serveTcp(sim.target, { host: '127.0.0.1', port: 0, log, session: { profile: 'modern' } });
  served = { sim, server, remote: `127.0.0.1:${server.port}`, logs };
  return served;
}

afterEach(async () => {
  if (served) {
    await served.server.close();
    served.sim.stop();
    served = null;
  }
});

/** Send gdb a SIGINT (Ctrl-C) `afterMs` after it has sent its n-th continue. */
function interruptAfterContinue(n: number, afterMs: number): (child: ChildProcess, out: () => string) => void {
  return (child, out) => {
    const poll = setInterval(() => {
      const sent = (out().match(/Sending packet: \$vCont;c/g) ?? []).length;
      if (sent >= n) {
        clearInterval(poll);
        void sleep(afterMs).then(() => child.kill('SIGINT'));
      }
    }, 20);
    child.on('close', () => clearInterval(poll));
  };
}

describe('real gdb: the watchdogs across a debugger stop', () => {
  it('stopped at a breakpoint inside clocksource_watchdog, held 5 s, continued: the touch is skipped and logged, the machine runs on', async () => {
    const s = await serve({ clock: { kind: 'fixed', ns: 5e9 } });
    const run = await runGdb({
      remote: s.remote,
      commands: [
        'break acpi_pm_read',
        'continue',
        mark('stop'), 'bt', monitor('watchdog'),
        'delete',
        'continue',
        mark('after'), monitor('dmesg'), mark('wd'), monitor('watchdog'), mark('end'),
        'detach',
      ],
      onSpawn: interruptAfterContinue(2, 800),
      timeoutMs: 60_000,
    });
    assertCleanWire(run);
    const stop = section(run.stdout, 'stop');
    expect(stop).toMatch(/acpi_pm_read/);
    expect(stop).toMatch(/clocksource_watchdog/);
    const holder = Number(/watchdog_lock: held by CPU(\d+)/.exec(stop)?.[1]);
    expect(holder).toBeGreaterThanOrEqual(0);
    expect(run.stdout).toMatch(/received signal SIGINT/);
    const dmesg = section(run.stdout, 'after');
    for (let c = 0; c < 4; c++) {
      expect(dmesg).toContain(`kgdb: CPU${c}: clocksource_touch_watchdog: watchdog_lock held by CPU${holder}, watchdog not reset`);
    }
    // No TSC penalty here: the resume before this stop (gdb's continue after connecting) did reset
    // the watchdog, so the run gdb stopped in only takes a new baseline, after the resume.
    expect(dmesg).not.toMatch(/Clocksource tsc unstable/);
    expect(dmesg).not.toMatch(/soft lockup/);
    const wd = section(run.stdout, 'wd');
    expect(wd).toMatch(/tsc: stable/);
    expect(wd).toContain('watchdog_lock: free');
    expect(wd).toMatch(/watchdog-touch-skipped/);
    expect(wd).not.toMatch(/DEADLOCK/);
    // the machine kept running after the resume: ticks went on
    expect(s.sim.kernel.percpuU64(0, 0x28)).toBeGreaterThan(100);
  }, 90_000);

  it('--scenario stop-in-watchdog (fixed): the first continue skips the touch; the TSC penalty tglx accepted shows', async () => {
    const s = await serve({ clock: { kind: 'fixed', ns: 5e9 }, scenario: 'stop-in-watchdog' });
    const holder = s.sim.core.entry!.cpu;
    const run = await runGdb({
      remote: s.remote,
      commands: ['bt', mark('wd0'), monitor('watchdog'), 'continue', mark('after'), monitor('dmesg'), mark('wd'), monitor('watchdog'), mark('end'), 'detach'],
      onSpawn: interruptAfterContinue(1, 600),
      timeoutMs: 60_000,
    });
    assertCleanWire(run);
    expect(run.stdout).toMatch(/acpi_pm_read[\s\S]*clocksource_watchdog/);
    expect(section(run.stdout, 'wd0')).toContain(`watchdog_lock: held by CPU${holder}`);
    const dmesg = section(run.stdout, 'after');
    expect(dmesg).toContain(`kgdb: CPU${holder}: clocksource_touch_watchdog: watchdog_lock held by CPU${holder}, watchdog not reset`);
    // 5 s held > the 4.69 s wrap of the watchdog counter, and this run compared against the old baseline
    expect(dmesg).toMatch(/Clocksource tsc unstable \(delta = \d+ ns\)/);
    const wd = section(run.stdout, 'wd');
    expect(wd).toMatch(/tsc: UNSTABLE/);
    expect(wd).toContain('watchdog_lock: free');
    expect(wd).not.toMatch(/DEADLOCK/);
  }, 90_000);

  for (const legacy of ['', 'softlockup-nosync']) {
    it(`a long pause (80 s per stop)${legacy ? ' with --legacy ' + legacy : ''}: ${legacy ? 'the false soft lockup' : 'no soft lockup'}`, async () => {
      const s = await serve({ clock: { kind: 'fixed', ns: 80e9 }, legacy });
      const run = await runGdb({
        remote: s.remote,
        commands: ['continue', mark('after'), monitor('dmesg'), mark('wd'), monitor('watchdog'), mark('end'), 'detach'],
        onSpawn: interruptAfterContinue(1, 700),
        timeoutMs: 60_000,
      });
      assertCleanWire(run);
      const dmesg = section(run.stdout, 'after');
      const wd = section(run.stdout, 'wd');
      expect(wd).toMatch(/kgdb-resume: the debugger resumed the machine after holding it for 80\.000 s/);
      if (legacy) {
        expect(dmesg).toMatch(/BUG: soft lockup - CPU#\d stuck for 80s! \[/);
        expect(wd).toMatch(/soft-lockup: BUG: soft lockup/);
      } else {
        expect(dmesg).not.toMatch(/soft lockup/);
        expect(dmesg).not.toMatch(/Clocksource tsc unstable/);
        expect(wd).not.toMatch(/soft-lockup/);
      }
    }, 90_000);
  }

  it('--scenario stop-in-watchdog --legacy clocksource-spinlock: continue deadlocks the resume path; detected, and Ctrl-C still works', async () => {
    const s = await serve({ clock: { kind: 'none' }, legacy: 'clocksource-spinlock', scenario: 'stop-in-watchdog' });
    const run = await runGdb({
      remote: s.remote,
      commands: ['bt', 'continue', mark('after'), monitor('watchdog'), mark('kgdb'), monitor('kgdb'), mark('end'), 'detach'],
      onSpawn: interruptAfterContinue(1, 600),
      timeoutMs: 60_000,
    });
    assertCleanWire(run);
    expect(run.stdout).toMatch(/acpi_pm_read[\s\S]*clocksource_watchdog/);
    expect(run.stdout).toMatch(/received signal SIGINT/);
    const wd = section(run.stdout, 'after');
    expect(wd).toMatch(/DEADLOCKED in the resume path/);
    expect(wd).toMatch(/deadlock: self-deadlock: CPU\d spins on watchdog_lock/);
    expect(section(run.stdout, 'kgdb')).toMatch(/self-deadlock/);
    expect(s.sim.watchdog.stuckCpus()).toEqual([0, 1, 2, 3]);
  }, 90_000);
});
