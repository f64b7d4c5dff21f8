// Machine benchmarks: interpreter speed against the host CPU on the same loop,
// the kernel workload, the cost of an idle served machine, and 256 CPUs.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildKernelImage } from '../kernel/image.js';
import { startServer } from '../server.js';
import { Runner } from '../kgdb/runner.js';
import { runMachine } from '../run.js';
import { symbolAddr } from '../kernel/link.js';
import { canon, createMachine } from '../system.js';
import { LOOP_INSNS, NATIVE_LOOP_C, tightLoopImage } from './loops.js';

export interface MachineFigures {
  tight_loop: { sim_mips: number; native_mips: number; iterations: number; runs: number[] };
  kernel_4cpu: { mips: number; instructions: number; host_seconds: number };
  idle: { host_cpu_percent: number; wall_seconds: number; cpus: number; virtual_seconds: number };
  /** The default served machine (demo threads running), for comparison. */
  served_default: { host_cpu_percent: number; wall_seconds: number; cpus: number; virtual_seconds: number };
  cpus256: { wall_seconds: number; host_bytes_per_cpu: number; guest_ram_bytes: number; instructions: number };
}

function simLoop(iterations: number): number {
  const m = createMachine(tightLoopImage(iterations), { cpus: 1 });
  const t0 = performance.now();
  m.run(Infinity);
  const s = (performance.now() - t0) / 1000;
  return m.cpus[0].retired / s / 1e6;
}

function nativeLoop(iterations: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'kgdb-sim-bench-'));
  writeFileSync(join(dir, 'loop.c'), NATIVE_LOOP_C);
  execFileSync('gcc', ['-O2', '-o', join(dir, 'loop'), join(dir, 'loop.c')]);
  let best = 0;
  for (let i = 0; i < 3; i++) {
    const out = execFileSync(join(dir, 'loop'), [String(iterations)]).toString().trim().split(' ');
    best = Math.max(best, (iterations * LOOP_INSNS) / Number(out[0]) / 1e6);
  }
  return best;
}

/**
 * Host CPU used by a served (paced) machine whose CPUs all idle, over
 * `seconds` of wall time: the real kernel with its demo threads not started
 * (kthreads_init patched to return at once), so every CPU sits in
 * default_idle taking its HZ timer ticks.
 */
async function servedCost(seconds: number, cpus: number, idle: boolean): Promise<MachineFigures['idle']> {
  const image = buildKernelImage();
  // The same composition `kgdb-sim serve` uses (debug core, hw breakpoints, watchdog hooks), paced.
  const sim = startServer({ image, cpus, seed: 1, clock: { kind: 'none' }, wire: 'modern', log: () => {}, paced: true });
  const m = sim.machine;
  sim.runner.stop();
  if (idle) m.mem.poke(canon(symbolAddr(image, 'kthreads_init')), Uint8Array.of(0xc3)); // ret: no demo threads
  m.run(200_000_000); // boot and settle
  const runner = new Runner(m, sim.core, true);
  runner.kick();
  await new Promise((r) => setTimeout(r, 3000)); // steady state: let V8's background compilation of the idle path settle
  const v0 = m.now;
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  runner.stop();
  const wall = (performance.now() - t0) / 1000;
  const u = process.cpuUsage(u0);
  return {
    host_cpu_percent: ((u.user + u.system) / 1e6 / wall) * 100,
    wall_seconds: seconds,
    cpus,
    virtual_seconds: (m.now - v0) / 1e9,
  };
}

function cpus256(): MachineFigures['cpus256'] {
  global.gc?.();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const m = createMachine(buildKernelImage(), { cpus: 256, seed: 1 });
  m.run(1_000_000_000);
  const wall = (performance.now() - t0) / 1000;
  global.gc?.();
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

export async function machineBenchmarks(o: { quick: boolean; log: (s: string) => void }): Promise<MachineFigures> {
  const iterations = o.quick ? 2_000_000 : 10_000_000;
  o.log('bench: tight loop (simulated)...');
  const runs = [simLoop(iterations), simLoop(iterations), simLoop(iterations)];
  o.log('bench: tight loop (native)...');
  const native = nativeLoop(200_000_000);
  o.log('bench: kernel workload, 4 CPUs, 1 virtual second...');
  const k = runMachine(4, 1, 1_000_000_000);
  o.log('bench: idle served machine...');
  const idle = await servedCost(o.quick ? 2 : 5, 4, true);
  o.log('bench: default served machine...');
  const servedDefault = await servedCost(o.quick ? 2 : 5, 4, false);
  o.log('bench: 256 CPUs, 1 virtual second...');
  const big = cpus256();
  return {
    tight_loop: { sim_mips: Math.max(...runs), native_mips: native, iterations, runs },
    kernel_4cpu: { mips: k.mips, instructions: k.instructions, host_seconds: k.host_seconds },
    idle,
    served_default: servedDefault,
    cpus256: big,
  };
}
