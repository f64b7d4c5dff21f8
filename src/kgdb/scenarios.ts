// Named, reproducible debugger situations (issue 5): `--scenario NAME` on
// `kgdb-sim serve` and `kgdb-sim run`.
//
// - stop-in-watchdog: the machine stops (like a breakpoint) while a CPU holds
//   watchdog_lock inside clocksource_watchdog — at the watchdog clocksource's
//   read, acpi_pm_read(), which clocksource_watchdog calls with the lock held.
//   Each stop adds STOP_IN_WATCHDOG_HOLD_NS of hardware time unless --clock
//   says otherwise (longer than the 4.69 s wrap of the watchdog counter, so the
//   skipped reset shows tglx's penalty: the TSC gets marked unstable).
// - long-pause: each debugger stop holds the machine for LONG_PAUSE_NS (80 s)
//   of hardware time, the pause of seed 001 patch 4's description.
//
// With `serve`, the scenario sets the clock policy and (stop-in-watchdog)
// leaves the machine stopped inside the watchdog for gdb to find. With `run`
// (src/scenarios.ts, playScenario) it also plays the debugger: run, stop, hold, resume, run on,
// and reports the watchdog events.

import type { Image } from '../kernel/link.js';
import { symbolAddr } from '../kernel/link.js';
import { WD_SYM } from '../kernel/watchdog.js';
import type { CpuPlan, DebugCore } from './debug-core.js';
import { canon } from '../system.js';
import { stopAt } from './stop-at.js';
import type { ClockPolicy } from '../target/machine.js';

export const SCENARIOS = ['stop-in-watchdog', 'long-pause'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Hardware time one stop adds in the long-pause scenario. */
export const LONG_PAUSE_NS = 80e9;
/** Hardware time one stop adds in the stop-in-watchdog scenario (by default). */
export const STOP_IN_WATCHDOG_HOLD_NS = 5e9;
/** Where `run` stops the machine (virtual time): late enough for every watchdog to be armed. */
export const SCENARIO_STOP_AT_NS = 2e9;
/** `run` runs at least this long after the resume. */
export const SCENARIO_AFTER_NS = 3e9;

export function parseScenario(name: string | undefined): ScenarioName | undefined {
  if (name === undefined) return undefined;
  if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown --scenario "${name}" (known: ${SCENARIOS.join(', ')})`);
  return name as ScenarioName;
}

/** The clock policy a scenario runs with unless --clock is given. */
export function scenarioClock(name: ScenarioName): ClockPolicy {
  return { kind: 'fixed', ns: name === 'long-pause' ? LONG_PAUSE_NS : STOP_IN_WATCHDOG_HOLD_NS };
}

/**
 * Run a machine that is running (no stop in progress) until one of its CPUs
 * stops at acpi_pm_read, i.e. inside clocksource_watchdog with watchdog_lock
 * held, using a software breakpoint of the debug core that is removed again;
 * the stopped CPU's rip is left at acpi_pm_read, as if gdb had stopped there.
 * Runs to SCENARIO_STOP_AT_NS of virtual time first.
 * Call it before a gdb target listens for stops. Returns the stopped CPU.
 */
export function stopInWatchdog(core: DebugCore, image: Image, withinNs = 3e9): number {
  const m = core.machine;
  // Not the watchdog's first run (that one only takes the TSC's baseline): run to SCENARIO_STOP_AT_NS first.
  runWithCore(core, Math.max(m.now, SCENARIO_STOP_AT_NS));
  const cpu = m.cpus[stopAt(core, canon(symbolAddr(image, 'acpi_pm_read')), withinNs, 'acpi_pm_read')];
  const lock = m.mem.peek(canon(symbolAddr(image, WD_SYM.lock)), 4)!;
  if (lock[0] !== cpu.id + 1) throw new Error(`stop-in-watchdog: CPU${cpu.id} stopped but watchdog_lock is ${lock[0]}`);
  return cpu.id;
}

/** Run the machine until `until` (virtual ns) under a debug core, resuming any stray stop. */
export function runWithCore(core: DebugCore, until: number): { wedged: boolean } {
  const m = core.machine;
  until = Math.ceil(until);
  while (m.now < until) {
    const r = m.run(until, 1_000_000);
    if (core.state !== 'running') {
      // A trap nobody asked for (kgdb_breakpoint from a panic…): finish it and let the machine go.
      core.completeEntry();
      core.resume(m.cpus.map((): CpuPlan => 'continue'));
      continue;
    }
    if (r === 'idle-forever') break;
    if (r === 'stopped' && m.cpus.every((c) => c.frozen || c.dead)) return { wedged: true };
  }
  return { wedged: false };
}

