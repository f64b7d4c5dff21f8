// Benchmarks that machine.ts runs in a fresh process of their own, so that
// their figures are those of a process holding one machine (no heap or JIT
// state from earlier benchmarks). One JSON object on stdout:
//   node dist/bench/child.js served SECONDS CPUS idle|default SETTLE_SECONDS
//   node --expose-gc dist/bench/child.js cpus256

import { buildKernelImage } from '../kernel/image.js';
import { symbolAddr } from '../kernel/link.js';
import { Runner } from '../kgdb/runner.js';
import { startServer } from '../server.js';
import { canon, createMachine } from '../system.js';

export interface Cpus256 {
  wall_seconds: number;
  /** Host heap + array buffers per CPU beyond the guest's RAM pages. */
  host_bytes_per_cpu: number;
  guest_ram_bytes: number;
  instructions: number;
}

export interface ServedCost {
  /** Wall time the machine was served before the measurement started. */
  settle_seconds: number;
  host_cpu_percent: number;
  wall_seconds: number;
  cpus: number;
  virtual_seconds: number;
}

/**
 * Host CPU used by a served (paced) machine whose CPUs all idle, over
 * `seconds` of wall time: the real kernel with its demo threads not started
 * (kthreads_init patched to return at once), so every CPU sits in
 * default_idle taking its HZ timer ticks.
 */
export async function servedCost(seconds: number, cpus: number, idle: boolean, settleMs = 8000): Promise<ServedCost> {
  const image = buildKernelImage();
  // The same composition `kgdb-sim serve` uses (debug core, hw breakpoints, watchdog hooks), paced.
  const sim = startServer({ image, cpus, seed: 1, clock: { kind: 'none' }, wire: 'modern', log: () => {}, paced: true });
  const m = sim.machine;
  sim.runner.stop();
  if (idle) m.mem.poke(canon(symbolAddr(image, 'kthreads_init')), Uint8Array.of(0xc3)); // ret: no demo threads
  m.run(200_000_000); // boot and settle
  const runner = new Runner(m, sim.core, true);
  runner.kick();
  // Steady state: for the first seconds V8 is still compiling the idle path in
  // background threads (about 4% of a core for ~5 s), a one-time cost.
  await new Promise((r) => setTimeout(r, settleMs));
  const v0 = m.now;
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  runner.stop();
  const wall = (performance.now() - t0) / 1000;
  const u = process.cpuUsage(u0);
  return {
    settle_seconds: settleMs / 1000,
    host_cpu_percent: ((u.user + u.system) / 1e6 / wall) * 100,
    wall_seconds: seconds,
    cpus,
    virtual_seconds: (m.now - v0) / 1e9,
  };
}

function cpus256(): Cpus256 {
  if (global.gc === undefined) throw new Error('cpus256 needs node --expose-gc');
  global.gc();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const m = createMachine(buildKernelImage(), { cpus: 256, seed: 1 });
  m.run(1_000_000_000);
  const wall = (performance.now() - t0) / 1000;
  global.gc();
  const after = process.memoryUsage();
  const guest = m.mem.pageCount * 4096;
  const host = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  return {
    wall_seconds: wall,
    host_bytes_per_cpu: Math.max(0, host - guest) / 256,
    guest_ram_bytes: guest,
    instructions: m.cpus.reduce((s, c) => s + c.retired, 0),
  };
}

const [what, ...args] = process.argv.slice(2);
if (what === 'served') {
  const [seconds, cpus, kind, settle] = args;
  const r = await servedCost(Number(seconds), Number(cpus), kind === 'idle', Number(settle ?? 8) * 1000);
  process.stdout.write(JSON.stringify(r) + '\n');
} else if (what === 'cpus256') {
  process.stdout.write(JSON.stringify(cpus256()) + '\n');
} else {
  throw new Error(`child.js: unknown benchmark "${what}"`);
}
