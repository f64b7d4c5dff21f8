// Protocol benchmarks: the shared harness (../shared/bench rspbench.py and
// gdbbench.sh) run against this stub and against gdbserver 13 in the same
// run, interleaved, so the ratios compare like with like; plus the time from a
// breakpoint hit to the stop reply with 4, 64 and 256 CPUs rounded up.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelImage } from '../kernel/image.js';
import { symbolAddr } from '../kernel/link.js';
import { startServer } from '../server.js';
import { canon } from '../system.js';

export interface ProtocolFigure {
  name: string;
  unit: string;
  ours: number;
  peer: number | null;
  /** true when a higher value is better (rates) */
  higherIsBetter: boolean;
}

export interface ProtocolFigures {
  rounds: number;
  placement: Placement;
  figures: ProtocolFigure[];
  roundup: Array<{ cpus: number; ms: number }>;
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const benchDir = join(root, '..', 'shared', 'bench');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function waitFor(proc: ChildProcess, re: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in: ${buf.slice(-500)}`)), ms);
    const on = (d: Buffer): void => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    };
    proc.stdout?.on('data', on);
    proc.stderr?.on('data', on);
    proc.once('exit', (code) => reject(new Error(`exited (${code}) before ${re}: ${buf.slice(-500)}`)));
  });
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** A server that did not come up must not outlive the benchmark (it would keep it from exiting). */
async function killOnFailure<T>(proc: ChildProcess, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
}

/**
 * Placement of the stub and its client (rspbench, gdb). `same` (default): all
 * on CPU 0 via taskset, the anchors' key mode (../shared/bench/anchors.md):
 * low noise, and every host cost of a stub shows, including V8 compiling on
 * that same core. `free`: the OS places them (on this 2-core VM a round trip
 * then mostly crosses cores and costs 60-100 us, hiding per-packet costs).
 */
export type Placement = 'same' | 'free';
let placement: Placement = 'same';

/** [file, args] to run `cmd args` with the chosen placement. */
function placed(cmd: string, args: string[]): [string, string[]] {
  return placement === 'same' ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args];
}

interface Started {
  port: number;
  addr: string;
  proc: ChildProcess;
}

async function startOurs(): Promise<Started> {
  // Stopped in a CPU-bound thread, so that steps measure the debugger on a
  // busy instruction stream (as gdbserver steps its busy memtarget) and not an
  // idle task's hlt waiting for the next timer tick.
  const proc = spawn(...placed(process.execPath, [join(root, 'dist', 'cli.js'), 'serve', '--port', '0', '--cpus', '4', '--stop-at', 'crunch_thread']), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // (the stop is logged on stderr before the banner on stdout)
  const [m] = await killOnFailure(proc, Promise.all([waitFor(proc, /on 127\.0\.0\.1:(\d+)/, 30_000), waitFor(proc, /stopped at crunch_thread/, 30_000)]));
  const image = buildKernelImage();
  // 1 MiB of mapped kernel memory: the image is laid out contiguously from .text.
  const addr = '0x' + BigInt.asUintN(64, BigInt(canon(symbolAddr(image, 'startup_64')) & ~0xfff)).toString(16);
  return { port: Number(m[1]), addr, proc };
}

async function startGdbserver(memtarget: string, blob: string): Promise<Started> {
  const port = await freePort();
  const proc = spawn(...placed('gdbserver', [`127.0.0.1:${port}`, memtarget]), { stdio: ['ignore', 'pipe', 'pipe'] });
  await killOnFailure(proc, waitFor(proc, /Listening on port/, 30_000));
  return { port, addr: blob, proc };
}

function stop(s: Started): void {
  s.proc.kill('SIGKILL');
}

function rspbench(port: number, addr: string, quick: boolean, skip = ''): Record<string, { median: number }> {
  const out = execFileSync(
    ...placed('python3', [join(benchDir, 'rspbench.py'), '--port', String(port), '--addr', addr, '--n', quick ? '500' : '2000', '--repeats', '3',
      '--latency-packets', 'qC', '--step-packet', 'vCont;s:{tid};c', '--end', 'close', '--compact', ...(skip ? ['--skip', skip] : [])]),
    { timeout: 300_000, maxBuffer: 1 << 24 },
  ).toString();
  const j = JSON.parse(out) as { figures: Record<string, { median: number }> };
  return j.figures;
}

function gdbbench(port: number, addr: string, end: string): Record<string, number> {
  const out = execFileSync(...placed('bash', [join(benchDir, 'gdbbench.sh'), '--port', String(port), '--addr', addr, '--iters', '20', '--steps', '1000', '--end', end]), {
    timeout: 300_000,
    maxBuffer: 1 << 24,
  }).toString();
  const j = JSON.parse(out) as { phases: Record<string, number> };
  return j.phases;
}

/** Wall time from a breakpoint hit (the int3 reaching the debug core) to the stop being reported. */
export async function roundupMs(cpus: number): Promise<number> {
  const image = buildKernelImage();
  const sim = startServer({ image, cpus, seed: 1, clock: { kind: 'none' }, wire: 'modern', log: () => {}, paced: false });
  const m = sim.machine;
  m.run(50_000_000); // boot
  sim.target.haltReason();
  // Report int3 stops at the breakpoint address (swbreak), as gdb negotiates it:
  // otherwise the caller must rewind the pc itself, as gdb does for a Linux kgdb.
  sim.core.reportSwbreakAddress = true;
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) {
      // Stopped on the breakpoint: step off it first, as gdb does, so the next hit is a fresh one.
      const stepped = new Promise<void>((resolve) => sim.target.attach(() => resolve()));
      sim.target.resume([{ kind: 'step', thread: -1 }]);
      await stepped;
    }
    let hit = 0;
    const inner = m.interceptor!;
    m.interceptor = (cpu, v, dr6) => {
      if (v === 3 && hit === 0) hit = performance.now();
      return inner(cpu, v, dr6);
    };
    sim.target.insertBreakpoint('sw', BigInt.asUintN(64, symbolAddr(image, 'counter_inc')), 1);
    const stopped = new Promise<number>((resolve) => sim.target.attach(() => resolve(performance.now())));
    sim.target.resume([{ kind: 'continue', thread: -1 }]);
    const t = await stopped;
    m.interceptor = inner;
    sim.target.removeBreakpoint('sw', BigInt.asUintN(64, symbolAddr(image, 'counter_inc')), 1);
    if (hit > 0) samples.push(t - hit);
  }
  sim.stop();
  return median(samples);
}

export async function protocolBenchmarks(o: { quick: boolean; placement: Placement; log: (s: string) => void }): Promise<ProtocolFigures> {
  placement = o.placement;
  if (!existsSync(join(benchDir, 'rspbench.py'))) throw new Error(`shared bench harness not found at ${benchDir}`);
  try {
    execFileSync('gdbserver', ['--version']);
  } catch {
    throw new Error('gdbserver is not installed (apt-get install -y gdbserver)');
  }
  if (placement === 'same') {
    try {
      execFileSync('taskset', ['-c', '0', 'true']);
    } catch {
      throw new Error('taskset (util-linux) is needed to pin the stubs and clients to one CPU (or use --placement free)');
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'kgdb-sim-bench-'));
  const memtarget = join(dir, 'memtarget');
  execFileSync('gcc', ['-O1', '-no-pie', '-DBLOB_FILE="/usr/bin/gdb"', '-o', memtarget, join(benchDir, 'memtarget.c')]);
  const nm = execFileSync('nm', [memtarget]).toString();
  const blob = '0x' + (/^([0-9a-f]+) [DdBb] blob$/m.exec(nm)?.[1] ?? '0');
  // Loopback round trips on a shared VM vary by ±20% from one minute to the next:
  // interleave 5 rounds and report medians, so both stubs see the same conditions.
  const rounds = o.quick ? 1 : 5;
  const ours: Array<Record<string, number>> = [];
  const peer: Array<Record<string, number>> = [];
  for (let r = 0; r < rounds; r++) {
    for (const who of ['ours', 'peer'] as const) {
      const name = who === 'ours' ? 'kgdb-sim' : 'gdbserver';
      o.log(`bench: protocol round ${r + 1}/${rounds}: ${name} (raw, fresh start, then warm)`);
      let s = who === 'ours' ? await startOurs() : await startGdbserver(memtarget, blob);
      const figs = rspbench(s.port, s.addr, o.quick);
      // A second pass on the same server: V8 has compiled kgdb-sim's packet
      // path by now (the first ~4000 packets after a start run up to 2x
      // slower). No steps: after the first client left, the machine runs and
      // this pass stops it wherever it is.
      const warm = rspbench(s.port, s.addr, o.quick, 'step');
      stop(s);
      o.log(`bench: protocol round ${r + 1}/${rounds}: ${name} (gdb, fresh start)`);
      s = who === 'ours' ? await startOurs() : await startGdbserver(memtarget, blob);
      const phases = gdbbench(s.port, s.addr, who === 'ours' ? 'detach' : 'kill');
      stop(s);
      const row: Record<string, number> = {
        qc: figs.latency_qC?.median ?? NaN,
        step: figs.step_rate?.median ?? NaN,
        z0: figs.z0_pair_rate?.median ?? NaN,
        mem: figs.mem_read?.median ?? NaN,
        g: figs.g_rate?.median ?? NaN,
        qcWarm: warm.latency_qC?.median ?? NaN,
        z0Warm: warm.z0_pair_rate?.median ?? NaN,
        memWarm: warm.mem_read?.median ?? NaN,
        gWarm: warm.g_rate?.median ?? NaN,
        stepi: phases.stepi ?? NaN,
        dump: phases.dump ?? NaN,
      };
      (who === 'ours' ? ours : peer).push(row);
    }
  }
  const fig = (name: string, key: string, unit: string, higherIsBetter: boolean): ProtocolFigure => ({
    name,
    unit,
    ours: median(ours.map((x) => x[key])),
    peer: median(peer.map((x) => x[key])),
    higherIsBetter,
  });
  const roundup: ProtocolFigures['roundup'] = [];
  for (const n of [4, 64, 256]) {
    o.log(`bench: roundup with ${n} CPUs`);
    roundup.push({ cpus: n, ms: await roundupMs(n) });
  }
  return {
    rounds,
    placement,
    figures: [
      fig('raw qC round trip', 'qc', 'us', false),
      fig('raw single steps', 'step', 'steps/s', true),
      fig('raw Z0+z0 pairs', 'z0', 'pairs/s', true),
      fig('raw g reads', 'g', 'reads/s', true),
      fig('raw 1 MiB m read', 'mem', 'MiB/s', true),
      fig('raw qC round trip, warm', 'qcWarm', 'us', false),
      fig('raw Z0+z0 pairs, warm', 'z0Warm', 'pairs/s', true),
      fig('raw g reads, warm', 'gWarm', 'reads/s', true),
      fig('raw 1 MiB m read, warm', 'memWarm', 'MiB/s', true),
      fig('gdb stepi 1000', 'stepi', 's', false),
      fig('gdb dump binary memory 1 MiB', 'dump', 's', false),
    ],
    roundup,
  };
}
