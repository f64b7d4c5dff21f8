// `kgdb-sim run --scenario NAME` (issue 5): the debugger's stop and resume of
// a scenario (src/kgdb/scenarios.ts), played without gdb on the same
// composition `serve` uses (startServer: debug core, hardware breakpoints,
// watchdog touches), driven synchronously.

import type { Image } from './kernel/link.js';
import { type CpuPlan, type DebugCore, SIGINT } from './kgdb/debug-core.js';
import {
  runWithCore, SCENARIO_AFTER_NS, SCENARIO_STOP_AT_NS, type ScenarioName, scenarioClock, stopInWatchdog,
} from './kgdb/scenarios.js';
import type { LegacyToggle, WatchdogTouch } from './kgdb/watchdog-touch.js';
import { startServer } from './server.js';
import type { ClockPolicy, Machine } from './target/machine.js';

export { SCENARIOS, parseScenario, scenarioClock, type ScenarioName } from './kgdb/scenarios.js';

export interface ScenarioOptions {
  image: Image;
  cpus: number;
  seed: number;
  scenario: ScenarioName;
  legacy: ReadonlySet<LegacyToggle>;
  /** Total virtual time to run (at least stop + SCENARIO_AFTER_NS). */
  forNs: number;
  clock?: ClockPolicy;
  log?: (line: string) => void;
}

export interface ScenarioRun {
  machine: Machine;
  core: DebugCore;
  watchdog: WatchdogTouch;
  /** CPU that was master of the scenario's stop. */
  stopCpu: number;
  /** Virtual time of the stop / resume. */
  stoppedAt: number;
  /** Hardware time the stop added. */
  heldNs: number;
  /** Every CPU ended up held (the legacy deadlock): the run ended early. */
  wedged: boolean;
}

/** `kgdb-sim run --scenario NAME`: the debugger's stop and resume, played without gdb. */
export function playScenario(o: ScenarioOptions): ScenarioRun {
  const clock = o.clock ?? scenarioClock(o.scenario);
  const sim = startServer({ image: o.image, cpus: o.cpus, seed: o.seed, clock, wire: 'modern', log: o.log ?? (() => {}), legacy: o.legacy, paced: false });
  sim.stop(); // no event-loop runner: this function drives the machine itself
  const { machine, core, watchdog } = sim;
  runWithCore(core, SCENARIO_STOP_AT_NS);
  let stopCpu: number;
  if (o.scenario === 'stop-in-watchdog') {
    stopCpu = stopInWatchdog(core, o.image);
  } else {
    core.stopNow(SIGINT);
    stopCpu = core.entry!.cpu;
  }
  const stoppedAt = machine.now;
  const before = machine.hwOffset;
  // The hold: no wall time passes here, the clock policy says how much hardware time does.
  core.resume(machine.cpus.map((): CpuPlan => 'continue'));
  const heldNs = machine.hwOffset - before;
  const { wedged } = runWithCore(core, Math.max(o.forNs, machine.now + SCENARIO_AFTER_NS));
  return { machine, core, watchdog, stopCpu, stoppedAt, heldNs, wedged };
}
