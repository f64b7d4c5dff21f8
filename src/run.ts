// `kgdb-sim run`: boot the machine without a debugger, run it for a stretch
// of virtual time as fast as the host allows, and report what happened.

import { parseArgs } from 'node:util';
import { buildKernelImage } from './kernel/image.js';
import { PCPU, SYM } from './kernel/layout.js';
import { symbolAddr } from './kernel/link.js';
import { MemoryKernelView } from './kgdb/kernel-view.js';
import { canon, createMachine } from './system.js';
import { type LegacyToggle, type WatchdogEvent, WatchdogTouch } from './kgdb/watchdog-touch.js'; // issue 5
import { playScenario, type ScenarioName } from './scenarios.js'; // issue 5
import { intOpt, parseClock, parseDuration, parseWatchdogOptions, UsageError } from './cli-options.js';
import type { ClockPolicy, Machine } from './target/machine.js';

export interface RunReport {
  cpus: number;
  seed: number;
  virtual_ns: number;
  per_cpu: Array<{ cpu: number; instructions: number; ticks: number; context_switches: number; migrations: number }>;
  instructions: number;
  jiffies: number;
  counter_value: number;
  tasks: Array<{ pid: number; name: string; state: string; cpu: number }>;
  host_seconds: number;
  mips: number;
  trace_hash: string;
  machine_events: Array<{ time: number; cpu: number; kind: string; detail: string }>;
  /**
   * Issue 5: kernel watchdog events (soft-lockup, tsc-unstable) and the debugger's resume path
   * (watchdog-touch-skipped, deadlock, kgdb-resume), each with its CPU and virtual time (ns).
   */
  events: WatchdogEvent[];
  /** Issue 5: the scenario played (`--scenario`), and what it did. */
  scenario?: { name: ScenarioName; legacy: LegacyToggle[]; stop_cpu: number; stopped_at: number; held_ns: number; wedged: boolean; stuck_cpus: number[] };
}

export function runMachine(cpus: number, seed: number, forNs: number): RunReport {
  const image = buildKernelImage();
  const m = createMachine(image, { cpus, seed });
  const watchdog = new WatchdogTouch(m, image); // only reads the kernel's watchdog events here
  const t0 = performance.now();
  m.run(forNs);
  return report(m, cpus, seed, (performance.now() - t0) / 1000, watchdog.events());
}

/** Issue 5: `run --scenario NAME [--legacy LIST]`: the scenario's stop and resume played without gdb. */
export function runScenario(
  cpus: number, seed: number, forNs: number, name: ScenarioName, legacy: ReadonlySet<LegacyToggle>, clock?: ClockPolicy,
): RunReport {
  const t0 = performance.now();
  const r = playScenario({ image: buildKernelImage(), cpus, seed, forNs, scenario: name, legacy, clock });
  const rep = report(r.machine, cpus, seed, (performance.now() - t0) / 1000, r.watchdog.events());
  rep.scenario = {
    name, legacy: [...legacy], stop_cpu: r.stopCpu, stopped_at: r.stoppedAt, held_ns: r.heldNs, wedged: r.wedged,
    stuck_cpus: r.watchdog.stuckCpus(),
  };
  return rep;
}

function report(m: Machine, cpus: number, seed: number, host: number, events: WatchdogEvent[]): RunReport {
  const image = buildKernelImage();
  const view = new MemoryKernelView(m.mem, image, cpus);
  const u64 = (name: string): number => view.symbolU64(canon(symbolAddr(image, name)));
  const instructions = m.cpus.reduce((s, c) => s + c.retired, 0);
  return {
    cpus,
    seed,
    virtual_ns: m.now,
    per_cpu: m.cpus.map((c) => ({
      cpu: c.id,
      instructions: c.retired,
      ticks: view.percpuU64(c.id, PCPU.apic_timer_irqs),
      context_switches: view.percpuU64(c.id, PCPU.nr_switches),
      migrations: view.percpuU64(c.id, PCPU.nr_migrations),
    })),
    instructions,
    jiffies: u64(SYM.jiffies),
    counter_value: u64(SYM.counterValue),
    tasks: view.tasks().map((t) => ({ pid: t.pid, name: t.name, state: t.state, cpu: t.cpu })),
    host_seconds: host,
    mips: host > 0 ? instructions / host / 1e6 : 0,
    trace_hash: m.traceHash.toString(16).padStart(8, '0'),
    machine_events: m.log.map((e) => ({ ...e })),
    events,
  };
}

export function runCommand(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      cpus: { type: 'string' },
      seed: { type: 'string' },
      for: { type: 'string' },
      json: { type: 'boolean', default: false },
      legacy: { type: 'string' }, // issue 5
      scenario: { type: 'string' }, // issue 5
      clock: { type: 'string' }, // issue 5: hardware time per stop (default: the scenario's)
    },
  });
  const cpus = intOpt(values.cpus, 'cpus', 4, 1, 256);
  const seed = intOpt(values.seed, 'seed', 1, 0, 0xffffffff);
  const { legacy, scenario } = parseWatchdogOptions(values.legacy, values.scenario);
  if (scenario === undefined && (legacy.size > 0 || values.clock !== undefined)) {
    throw new UsageError('--legacy and --clock need --scenario with run (they change what the debugger does)');
  }
  const forNs = parseDuration(values.for ?? (scenario ? '5s' : '1s'));
  const r =
    scenario === undefined
      ? runMachine(cpus, seed, forNs)
      : runScenario(cpus, seed, forNs, scenario, legacy, values.clock === undefined ? undefined : parseClock(values.clock));
  if (values.json) {
    process.stdout.write(JSON.stringify(r) + '\n');
  } else {
    const lines = [
      `kgdb-sim run: ${cpus} CPUs, seed ${seed}, ${(r.virtual_ns / 1e9).toFixed(3)} s virtual in ${r.host_seconds.toFixed(3)} s host (${r.mips.toFixed(1)} MIPS)`,
      ...r.per_cpu.map((c) => `  CPU${c.cpu}: ${c.instructions} instructions, ${c.ticks} ticks, ${c.context_switches} context switches, ${c.migrations} migrations`),
      `  jiffies ${r.jiffies}, counter_value ${r.counter_value}, trace hash ${r.trace_hash}`,
      ...r.tasks.map((t) => `  task ${t.pid} ${t.name}: ${t.state} (cpu ${t.cpu})`),
      ...r.machine_events.map((e) => `  event: CPU${e.cpu} ${e.kind} ${e.detail}`),
      ...(r.scenario
        ? [`  scenario ${r.scenario.name} (legacy: ${r.scenario.legacy.join(',') || 'none'}): stopped on CPU${r.scenario.stop_cpu} at ${(r.scenario.stopped_at / 1e9).toFixed(3)} s, held ${(r.scenario.held_ns / 1e9).toFixed(3)} s of hardware time${r.scenario.wedged ? ', machine WEDGED (every CPU stuck)' : ''}`]
        : []),
      ...r.events.map((e) => `  ${(e.time / 1e9).toFixed(6)} s CPU${e.cpu} ${e.kind}: ${e.detail}`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  }
  return r.machine_events.some((e) => e.kind === 'triple-fault' || e.kind === 'internal-error') ? 1 : 0;
}
