// Machine benchmarks: interpreter speed against the host CPU on the same loop,
// the kernel workload, the cost of an idle served machine, and 256 CPUs.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelImage } from '../kernel/image.js';
import { runMachine } from '../run.js';
import { createMachine } from '../system.js';
import type { Cpus256, ServedCost } from './child.js';
import { LOOP_INSNS, NATIVE_LOOP_C, tightLoopImage } from './loops.js';

export interface MachineFigures {
  tight_loop: { sim_mips: number; native_mips: number; iterations: number; runs: number[] };
  kernel_4cpu: { mips: number; instructions: number; host_seconds: number };
  idle: ServedCost;
  /** The default served machine (demo threads running), for comparison. */
  served_default: ServedCost;
  cpus256: Cpus256;
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

function childScript(): string {
  return fileURLToPath(new URL('./child.js', import.meta.url));
}

/**
 * Host CPU used by a served machine, measured in a fresh Node process of its
 * own (child.ts): a served kgdb-sim process holds one machine, and the cost
 * must not include this process's heap and JIT state from earlier benchmarks.
 */
function servedCost(seconds: number, cpus: number, idle: boolean, settleSeconds: number): ServedCost {
  const out = execFileSync(process.execPath, [childScript(), 'served', String(seconds), String(cpus), idle ? 'idle' : 'default', String(settleSeconds)], { timeout: 120_000 });
  return JSON.parse(out.toString()) as ServedCost;
}

/** 256 CPUs for 1 virtual s, in a fresh process with --expose-gc (child.ts) so the heap can be measured. */
function cpus256(): Cpus256 {
  const out = execFileSync(process.execPath, ['--expose-gc', childScript(), 'cpus256'], { timeout: 300_000 });
  return JSON.parse(out.toString()) as Cpus256;
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
  const idle = servedCost(o.quick ? 2 : 10, 4, true, o.quick ? 2 : 8);
  o.log('bench: default served machine...');
  const servedDefault = servedCost(o.quick ? 2 : 10, 4, false, o.quick ? 2 : 8);
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
