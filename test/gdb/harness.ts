// Harness for the real-gdb proof tests (issue 3): a kgdb-sim server, either
// in-process (startServer + serveTcp on an ephemeral port, so a test can also
// look at the machine directly) or as the real CLI in a child process (TCP,
// --stdio, --serial), and real gdb 13 in batch mode driving it.
//
// Rules: every gdb run has a hard timeout (the process is SIGKILLed and the
// test FAILS, never hangs); a missing tool (gdb, socat, dist/) FAILS loudly,
// never skips; gdb always runs with `set debug remote 1` so each test can
// check the protocol log for acks/retransmissions/"too long".

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelImage } from '../../src/kernel/image.js';
import { writeElf } from '../../src/kernel/elf.js';
import { symbolAddr, type Image } from '../../src/kernel/link.js';
import { serveTcp, type ProfileName, type TcpServer } from '../../src/rsp/index.js';
import { startServer, type Sim } from '../../src/server.js';
import { canon } from '../../src/system.js';
import type { ClockPolicy } from '../../src/target/machine.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'cli.js');
export const GDB = '/usr/bin/gdb';

/** Absolute path of a required tool; throws (the test fails) when it is missing. */
export function requireTool(name: string, candidates: string[] = [`/usr/bin/${name}`, `/usr/local/bin/${name}`, `/bin/${name}`]): string {
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`${name} is required for this test and is not installed (apt-get install -y ${name}; .ci/run does this)`);
}

/** dist/cli.js must exist (npm run build); the CLI-driven tests fail loudly otherwise. */
export function requireCli(): string {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  return CLI;
}

// ------------------------------------------------------------------ kernel

let elfDir: string | null = null;
let elfFile: string | null = null;

/** The kernel ELF (symbols for gdb), written once per test process. */
export function kernelElf(): string {
  if (elfFile === null) {
    elfDir = mkdtempSync(join(tmpdir(), 'kgdb-sim-test-'));
    elfFile = join(elfDir, 'vmlinux');
    writeFileSync(elfFile, writeElf(buildKernelImage()));
    process.on('exit', () => {
      if (elfDir) rmSync(elfDir, { recursive: true, force: true });
    });
  }
  return elfFile;
}

/** A fresh temp file path (removed at exit). */
export function tempPath(name: string): string {
  kernelElf();
  return join(elfDir!, `${process.pid}-${Math.random().toString(36).slice(2)}-${name}`);
}

export function image(): Image {
  return buildKernelImage();
}

/** Kernel symbol address as an unsigned bigint (the wire's view). */
export function sym(name: string): bigint {
  return BigInt.asUintN(64, symbolAddr(buildKernelImage(), name));
}

/** Kernel symbol address as the machine's signed number. */
export function symNum(name: string): number {
  return canon(symbolAddr(buildKernelImage(), name));
}

// ------------------------------------------------------------------ in-process server

export interface SimOptions {
  cpus?: number;
  seed?: number;
  wire?: ProfileName;
  clock?: ClockPolicy;
  paced?: boolean;
  trace?: boolean;
  /** Stop the machine before it runs its first instruction (like kgdbwait). */
  stopAtBoot?: boolean;
}

export interface SimServer {
  sim: Sim;
  server: TcpServer;
  port: number;
  /** Every log line of the server (debug core + rsp), in order. */
  logs: string[];
  /** `target remote` argument. */
  remote: string;
  close(): Promise<void>;
}

export async function startSim(o: SimOptions = {}): Promise<SimServer> {
  const logs: string[] = [];
  const log = (l: string): void => {
    logs.push(l);
    if (process.env.KGDB_TEST_LOG) process.stderr.write(`[sim] ${l}\n`);
  };
  const wire = o.wire ?? 'modern';
  const sim = startServer({
    image: buildKernelImage(),
    cpus: o.cpus ?? 4,
    seed: o.seed ?? 1,
    clock: o.clock ?? { kind: 'wall' },
    wire,
    log,
    paced: o.paced ?? true,
  });
  if (o.stopAtBoot) sim.core.stopNow(5);
  const server = await serveTcp(sim.target, {
    host: '127.0.0.1',
    port: 0,
    log,
    session: {
      profile: wire,
      trace: o.trace ? (dir, text) => log(`${dir === 'recv' ? '<-' : '->'} ${text}`) : undefined,
    },
  });
  return {
    sim,
    server,
    port: server.port,
    logs,
    remote: `127.0.0.1:${server.port}`,
    close: async () => {
      await server.close();
      sim.stop();
    },
  };
}

// ------------------------------------------------------------------ gdb

export interface GdbRun {
  stdout: string;
  stderr: string;
  /** stdout + stderr. */
  all: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Wall time the run took, ms. */
  ms: number;
}

export interface GdbOptions {
  /** What follows `target remote ` (host:port, `| cmd`, a tty path); null: do not connect. */
  remote: string | null;
  /** Commands after the connection. */
  commands: string[];
  /** Commands before the connection. */
  pre?: string[];
  /** Symbol file (default: the kernel ELF); null for none. */
  elf?: string | null;
  /** Hard limit; on expiry gdb is SIGKILLed and the promise REJECTS. Default 45 s. */
  timeoutMs?: number;
  /** Default true: `set debug remote 1` (the packet log on stderr). */
  debugRemote?: boolean;
  /** Called once gdb is spawned (e.g. to signal it later). */
  onSpawn?: (child: ChildProcess, output: () => string) => void;
  /** When gdb is killed on purpose by the test: resolve instead of reject on signal. */
  expectKill?: boolean;
}

const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of liveChildren) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

export function gdbArgs(o: GdbOptions): string[] {
  const args = ['-nx', '-batch', '-ex', 'set pagination off', '-ex', 'set confirm off', '-ex', 'set width 0', '-ex', 'set height 0'];
  if (o.debugRemote ?? true) args.push('-ex', 'set debug remote 1');
  const elf = o.elf === undefined ? kernelElf() : o.elf;
  if (elf !== null) args.push(elf);
  for (const c of o.pre ?? []) args.push('-ex', c);
  if (o.remote !== null) args.push('-ex', `target remote ${o.remote}`);
  for (const c of o.commands) args.push('-ex', c);
  return args;
}

export function runGdb(o: GdbOptions): Promise<GdbRun> {
  const gdb = requireTool('gdb', [GDB]);
  const timeoutMs = o.timeoutMs ?? 45_000;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(gdb, gdbArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('latin1').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('latin1').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    o.onSpawn?.(child, () => stdout + stderr);
    child.on('error', (e) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      const run: GdbRun = { stdout, stderr, all: stdout + stderr, code, signal, ms: Date.now() - t0 };
      if (timedOut) {
        reject(new Error(`gdb timed out after ${timeoutMs} ms and was killed.\n--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${tail(stderr)}`));
      } else if (signal !== null && !o.expectKill) {
        reject(new Error(`gdb died of ${signal}\n--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${tail(stderr)}`));
      } else {
        resolve(run);
      }
    });
  });
}

function tail(s: string, n = 6000): string {
  return s.length <= n ? s : '…' + s.slice(-n);
}

/** A gdb command that prints a marker line, to split the output into sections. */
export function mark(name: string): string {
  return `echo @@${name}@@\\n`;
}

/**
 * `monitor <cmd>` whose output lands on stdout, in order with the markers
 * (gdb prints target output on stderr in batch mode; Python's to_string captures it).
 */
export function monitor(cmd: string): string {
  return `python print(gdb.execute("monitor ${cmd.replace(/["\\]/g, '')}", to_string=True))`;
}

/** stdout between mark(name) and the next marker (or the end). */
export function section(out: string, name: string): string {
  const m = `@@${name}@@\n`;
  const i = out.indexOf(m);
  if (i < 0) throw new Error(`marker ${name} not in gdb output:\n${tail(out)}`);
  const rest = out.slice(i + m.length);
  const j = rest.indexOf('@@');
  return j < 0 ? rest : rest.slice(0, j);
}

/** Protocol-level trouble gdb reports in its `set debug remote 1` log (or on the console). */
export const PROTOCOL_TROUBLE =
  /Packet instead of Ack|Received Nak|Nak received|Bad checksum|Timeout in mid-packet|Ack timeout|Timed out|Junk:|Remote 'g' packet reply is too long|Remote failure reply|Malformed response|Remote connection closed|Ignoring packet error|retransmit/i;

/** Fails with the offending log lines if gdb saw anything wrong with the wire. */
export function assertCleanWire(run: GdbRun): void {
  const bad = run.all.split('\n').filter((l) => PROTOCOL_TROUBLE.test(l));
  if (bad.length > 0) throw new Error(`gdb reported protocol trouble:\n${bad.slice(0, 20).join('\n')}`);
}

/** Lines from the debug log: the packets gdb received. */
export function received(run: GdbRun): string[] {
  const out: string[] = [];
  for (const m of run.stderr.matchAll(/Packet received: (.*)$/gm)) out.push(m[1]!);
  return out;
}

/** Lines from the debug log: the packets gdb sent (payload only). */
export function sent(run: GdbRun): string[] {
  const out: string[] = [];
  for (const m of run.stderr.matchAll(/Sending packet: \$(.*)#[0-9a-f]{2}$/gm)) out.push(m[1]!);
  return out;
}

// ------------------------------------------------------------------ parsing gdb output

export interface GdbThread {
  /** gdb's thread number. */
  num: number;
  /** The stub's thread id (pid, or the shadow id). */
  tid: number;
  extra: string;
  current: boolean;
  frame: string;
}

/** `info threads` → rows. */
export function parseInfoThreads(text: string): GdbThread[] {
  const rows: GdbThread[] = [];
  // "* 1    Thread 32768 (shadowCPU0 (idle))             0xffffffff81000d74 in default_idle ()"
  // The extra info may itself hold parentheses: take the longest "(...)" followed by the frame column.
  for (const m of text.matchAll(/^(\*| ) +(\d+) +Thread (\d+)(?: \((.*)\))? +((?:0x[0-9a-f]+ in )?[\w.?]+ \(.*)$/gm)) {
    rows.push({ current: m[1] === '*', num: Number(m[2]), tid: Number(m[3]), extra: m[4] ?? '', frame: m[5] ?? '' });
  }
  return rows;
}

/**
 * `thread apply all <cmd>` → per-thread output keyed by the stub's thread id.
 * gdb prints "\nThread N (Thread TID (extra)):\n<output>".
 */
export function parseThreadApply(text: string): Map<number, { num: number; extra: string; body: string }> {
  const out = new Map<number, { num: number; extra: string; body: string }>();
  const re = /^Thread (\d+) \(Thread (\d+)(?: \((.*)\))?\):\s*$/gm;
  const heads = [...text.matchAll(re)];
  heads.forEach((h, i) => {
    const start = h.index! + h[0].length;
    const end = i + 1 < heads.length ? heads[i + 1]!.index! : text.length;
    out.set(Number(h[2]), { num: Number(h[1]), extra: h[3] ?? '', body: text.slice(start, end) });
  });
  return out;
}

/** All `$N = value` results in order. */
export function values(text: string): string[] {
  return [...text.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => m[1]!);
}

/** `monitor tasks` lines → pid → { name, state, cpu, onCpu }. */
export function parseTasks(text: string): Map<number, { name: string; state: string; cpu: number; on: boolean }> {
  const out = new Map<number, { name: string; state: string; cpu: number; on: boolean }>();
  for (const m of text.matchAll(/^(\d+)\t(\S+)\t(\S+)\t(on CPU|cpu )(\d+)$/gm)) {
    out.set(Number(m[1]), { name: m[2]!, state: m[3]!, cpu: Number(m[5]), on: m[4] === 'on CPU' });
  }
  return out;
}

// ------------------------------------------------------------------ child-process servers

export interface ChildServer {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): Promise<void>;
}

/** Start `node dist/cli.js <args>`; resolves once `ready` matches its output (or rejects after timeoutMs). */
export function startCli(args: string[], ready: RegExp, timeoutMs = 30_000): Promise<ChildServer & { match: RegExpMatchArray }> {
  const cli = requireCli();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(child);
    let out = '';
    let err = '';
    let done = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on('close', (code, signal) => {
        liveChildren.delete(child);
        r({ code, signal });
        if (!done) {
          done = true;
          clearTimeout(timer);
          reject(new Error(`kgdb-sim ${args.join(' ')} exited (${code ?? signal}) before it was ready\n${out}\n${err}`));
        }
      }),
    );
    const srv: ChildServer = {
      child,
      stdout: () => out,
      stderr: () => err,
      exited,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      },
    };
    const check = (): void => {
      if (done) return;
      const m = (out + err).match(ready);
      if (m) {
        done = true;
        clearTimeout(timer);
        resolve({ ...srv, match: m });
      }
    };
    child.stdout!.setEncoding('latin1').on('data', (d: string) => {
      out += d;
      check();
    });
    child.stderr!.setEncoding('latin1').on('data', (d: string) => {
      err += d;
      check();
    });
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`kgdb-sim ${args.join(' ')} not ready after ${timeoutMs} ms\n${out}\n${err}`));
    }, timeoutMs);
  });
}

export interface PtyPair {
  a: string;
  b: string;
  close(): Promise<void>;
}

/** A pty pair from socat (`socat -d -d pty,raw,echo=0 pty,raw,echo=0`). */
export function ptyPair(timeoutMs = 10_000): Promise<PtyPair> {
  const socat = requireTool('socat');
  return new Promise((resolve, reject) => {
    const child = spawn(socat, ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    liveChildren.add(child);
    let err = '';
    let done = false;
    const exited = new Promise<void>((r) => child.on('close', () => (liveChildren.delete(child), r())));
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`socat gave no pty pair after ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.stderr!.setEncoding('latin1').on('data', (d: string) => {
      err += d;
      const ptys = [...err.matchAll(/PTY is (\/dev\/\S+)/g)].map((m) => m[1]!);
      if (!done && ptys.length >= 2 && /starting data transfer loop/.test(err)) {
        done = true;
        clearTimeout(timer);
        resolve({
          a: ptys[0]!,
          b: ptys[1]!,
          close: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
    child.on('close', (code) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(new Error(`socat exited (${code}): ${err}`));
      }
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until pred() holds (polling), or throw after ms. */
export async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
