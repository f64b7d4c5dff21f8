// `kgdb-sim run`: boot the machine without a debugger, run it for a stretch
// of virtual time as fast as the host allows, and report what happened.

import { parseArgs } from 'node:util';
import { buildKernelImage } from './kernel/image.js';
import { PCPU, SYM } from './kernel/layout.js';
import { symbolAddr } from './kernel/link.js';
import { MemoryKernelView } from './kgdb/kernel-view.js';
import { canon, createMachine } from './system.js';

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
}

export function runMachine(cpus: number, seed: number, forNs: number): RunReport {
  const image = buildKernelImage();
  const m = createMachine(image, { cpus, seed });
  const view = new MemoryKernelView(m.mem, image, cpus);
  const t0 = performance.now();
  m.run(forNs);
  const host = (performance.now() - t0) / 1000;
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
  };
}

interface Helpers {
  parseDuration(s: string): number;
  intOpt(v: string | undefined, name: string, def: number, min: number, max: number): number;
  UsageError: new (msg: string) => Error;
}

export function runCommand(argv: string[], h: Helpers): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      cpus: { type: 'string' },
      seed: { type: 'string' },
      for: { type: 'string', default: '1s' },
      json: { type: 'boolean', default: false },
    },
  });
  const cpus = h.intOpt(values.cpus, 'cpus', 4, 1, 256);
  const seed = h.intOpt(values.seed, 'seed', 1, 0, 0xffffffff);
  const forNs = h.parseDuration(values.for);
  const r = runMachine(cpus, seed, forNs);
  if (values.json) {
    process.stdout.write(JSON.stringify(r) + '\n');
  } else {
    const lines = [
      `kgdb-sim run: ${cpus} CPUs, seed ${seed}, ${(r.virtual_ns / 1e9).toFixed(3)} s virtual in ${r.host_seconds.toFixed(3)} s host (${r.mips.toFixed(1)} MIPS)`,
      ...r.per_cpu.map((c) => `  CPU${c.cpu}: ${c.instructions} instructions, ${c.ticks} ticks, ${c.context_switches} context switches, ${c.migrations} migrations`),
      `  jiffies ${r.jiffies}, counter_value ${r.counter_value}, trace hash ${r.trace_hash}`,
      ...r.tasks.map((t) => `  task ${t.pid} ${t.name}: ${t.state} (cpu ${t.cpu})`),
      ...r.machine_events.map((e) => `  event: CPU${e.cpu} ${e.kind} ${e.detail}`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  }
  return r.machine_events.some((e) => e.kind === 'triple-fault' || e.kind === 'internal-error') ? 1 : 0;
}
