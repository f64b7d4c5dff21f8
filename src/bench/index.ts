// `kgdb-sim bench` / `npm run bench`: the speed figures of docs/benchmarks.md.
// Machine figures are measured in-process; protocol figures drive the shared
// harness (../shared/bench: rspbench.py, gdbbench.sh) against this stub and
// against gdbserver in the same run, so ratios compare like with like.

import { parseArgs } from 'node:util';
import { UsageError } from '../cli-options.js';
import { machineBenchmarks, type MachineFigures } from './machine.js';
import { protocolBenchmarks, type ProtocolFigures } from './protocol.js';

export interface BenchReport {
  date: string;
  host: { node: string; cpus: number };
  machine: MachineFigures;
  protocol?: ProtocolFigures | { error: string };
  tight_loop_mips: number;
  native_loop_mips: number;
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      'no-protocol': { type: 'boolean', default: false },
      placement: { type: 'string', default: 'same' },
    },
  });
  const placement = values.placement;
  if (placement !== 'same' && placement !== 'free') throw new UsageError('--placement must be same or free');
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const machine = await machineBenchmarks({ quick: values.quick, log });
  let protocol: BenchReport['protocol'];
  if (!values['no-protocol']) {
    try {
      protocol = await protocolBenchmarks({ quick: values.quick, placement, log });
    } catch (e) {
      protocol = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  const os = await import('node:os');
  const report: BenchReport = {
    date: new Date().toISOString(),
    host: { node: process.version, cpus: os.cpus().length },
    machine,
    protocol,
    tight_loop_mips: machine.tight_loop.sim_mips,
    native_loop_mips: machine.tight_loop.native_mips,
  };
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(formatReport(report));
  return 0;
}

function formatReport(r: BenchReport): string {
  const m = r.machine;
  const lines = [
    `kgdb-sim bench (${r.date}, node ${r.host.node}, ${r.host.cpus} host cores)`,
    '',
    'machine:',
    `  tight ALU loop, 1 CPU:       ${m.tight_loop.sim_mips.toFixed(1)} M simulated instr/s; native ${m.tight_loop.native_mips.toFixed(0)} M/s; ratio native/sim ${(m.tight_loop.native_mips / m.tight_loop.sim_mips).toFixed(1)}x`,
    `  kernel workload, 4 CPUs:     ${m.kernel_4cpu.mips.toFixed(1)} M instr/s (${m.kernel_4cpu.instructions} instructions for 1 virtual s in ${m.kernel_4cpu.host_seconds.toFixed(2)} s)`,
    `  idle machine, served:        ${m.idle.host_cpu_percent.toFixed(2)} % of one host core over ${m.idle.wall_seconds} s after ${m.idle.settle_seconds} s served (${m.idle.cpus} CPUs idle)`,
    `  default machine, served:     ${m.served_default.host_cpu_percent.toFixed(1)} % of one host core (demo threads running)`,
    `  256 CPUs, 1 virtual s:       ${m.cpus256.wall_seconds.toFixed(2)} s wall, ${(m.cpus256.host_bytes_per_cpu / 1024).toFixed(0)} KiB host memory per CPU beyond guest RAM`,
  ];
  const p = r.protocol;
  if (p && 'error' in p) lines.push('', `protocol: not measured: ${p.error}`);
  else if (p) {
    lines.push('', `protocol (median of ${p.rounds} interleaved rounds, placement ${p.placement}; ratio = kgdb-sim / gdbserver, same run):`);
    for (const f of p.figures)
      lines.push(`  ${f.name.padEnd(34)} kgdb-sim ${fmt(f.ours)} ${f.unit}   gdbserver ${fmt(f.peer)} ${f.unit}   ratio ${f.peer ? (f.ours / f.peer).toFixed(2) : '-'}`);
    for (const f of p.roundup) lines.push(`  roundup to stop reply, ${String(f.cpus).padStart(3)} CPUs: ${f.ms.toFixed(2)} ms`);
  }
  return lines.join('\n') + '\n';
}

function fmt(v: number | null): string {
  if (v === null) return '-';
  return v >= 100 ? v.toFixed(0) : v.toFixed(3);
}
