// Assemble a debuggable machine: kernel image → machine → debug core → gdb
// target, with the runner driving it. Transports are attached by the caller.

import type { Image } from './kernel/link.js';
import { DebugCore } from './kgdb/debug-core.js';
import { GdbTarget } from './kgdb/gdb-target.js';
import { X86HwBreakpoints } from './hwbreak/index.js';
import { MemoryKernelView } from './kgdb/kernel-view.js';
import { Runner } from './kgdb/runner.js';
import { STOP_AT_WITHIN_NS, parseLocation, stopAt } from './kgdb/stop-at.js';
import { type ScenarioName, stopInWatchdog } from './kgdb/scenarios.js'; // issue 5
import { type LegacyToggle, WatchdogTouch } from './kgdb/watchdog-touch.js'; // issue 5
import type { ProfileName } from './rsp/index.js';
import { createMachine } from './system.js';
import type { ClockPolicy, Machine } from './target/machine.js';

export interface ServerOptions {
  image: Image;
  cpus: number;
  seed: number;
  clock: ClockPolicy;
  wire: ProfileName;
  log: (line: string) => void;
  /** Pace virtual time to wall time (serving); tests may turn it off to run flat out. */
  paced?: boolean;
  /** Issue 5: 2.6.33 regressions to bring back on the resume path (default: none, the fixed behaviour). */
  legacy?: ReadonlySet<LegacyToggle>;
  /** Issue 5: stop-in-watchdog leaves the machine stopped inside clocksource_watchdog before gdb connects. */
  scenario?: ScenarioName;
  /** Leave the machine stopped where a CPU first reaches this location (SYMBOL, SYMBOL+OFFSET, 0xADDRESS). */
  stopAt?: string;
}

export interface Sim {
  machine: Machine;
  core: DebugCore;
  runner: Runner;
  kernel: MemoryKernelView;
  target: GdbTarget;
  /** Hardware breakpoints and watchpoints (issue 4). */
  hw: X86HwBreakpoints;
  /** The watchdog touches of the resume path and the kernel's watchdog events (issue 5). */
  watchdog: WatchdogTouch;
  stop(): void;
}

export function startServer(o: ServerOptions): Sim {
  const machine = createMachine(o.image, { cpus: o.cpus, seed: o.seed, clock: o.clock });
  const kernel = new MemoryKernelView(machine.mem, o.image, o.cpus);
  // Hardware breakpoints (issue 4): its hooks disable the debug registers on entry,
  // re-install them on resume and pass perf's #DBs to the kernel. Another cpuLeave
  // user must call hw.hooks.cpuLeave too (chain them), not replace it.
  const hw = new X86HwBreakpoints(machine, o.image, { linuxWire: o.wire === 'kgdb', log: (l) => o.log(l) });
  // Issue 5: every CPU leaving the debugger also touches the watchdogs
  // (touch_softlockup_watchdog_sync + trylock clocksource_touch_watchdog), after hw breakpoints.
  const watchdog = new WatchdogTouch(machine, o.image, {
    legacy: o.legacy,
    log: (l) => {
      core.log.push(l); // `monitor kgdb` shows skipped touches and detected deadlocks too
      o.log(l);
    },
  });
  const core = new DebugCore(machine, {
    log: (l) => o.log(l),
    ...hw.hooks,
    cpuLeave: (c, heldNs) => {
      hw.hooks.cpuLeave?.(c, heldNs);
      watchdog.cpuLeave(c, heldNs);
    },
  });
  // Before the gdb target listens: the scenario's stop is then reported to gdb like any stop found at connect.
  if (o.scenario === 'stop-in-watchdog') stopInWatchdog(core, o.image);
  else if (o.stopAt !== undefined) {
    const cpu = stopAt(core, parseLocation(o.image, machine.mem, o.stopAt), STOP_AT_WITHIN_NS, o.stopAt);
    o.log(`kgdb-sim: stopped at ${o.stopAt} on CPU ${cpu} after ${(machine.now / 1e6).toFixed(3)} virtual ms`);
  }
  const runner = new Runner(machine, core, o.paced ?? true);
  const target = new GdbTarget({ machine, core, runner, kernel, hw, monitor: (cmd) => watchdogMonitor(watchdog, cmd), numbering: o.wire === 'kgdb' ? 'linux' : 'modern' });
  runner.kick();
  return { machine, core, runner, kernel, target, hw, watchdog, stop: () => runner.stop() };
}

/** Issue 5: `monitor watchdog`; `monitor dmesg` first writes kernel-log lines the resume path had to defer. */
function watchdogMonitor(watchdog: WatchdogTouch, cmd: string): string | undefined {
  const word = cmd.split(/\s+/)[0];
  if (word === 'watchdog') return watchdog.describe();
  if (word === 'dmesg') watchdog.flushLog();
  return undefined;
}
