// Issue 3, proof: the same basic gdb session through every transport of the
// real command line (dist/cli.js, built by `npm run build` / `npm test`):
// TCP (`serve --port 0`), a pipe (`target remote | kgdb-sim serve --stdio`)
// and a serial line through a socat pty pair (`serve --serial /dev/pts/A`,
// gdb on /dev/pts/B). Plus the Linux-kgdb wire profile with real gdb.

import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_THREADS } from '../../src/kernel/demo.js';
import {
  assertCleanWire, type ChildServer, mark, parseInfoThreads, ptyPair, type PtyPair, received, requireCli, runGdb,
  section, sent, startCli, startSim, tempPath, type GdbRun,
} from './harness.js';

const CPUS = 4;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** The commands of the basic session and what they must show. */
const BASIC = [
  mark('threads'),
  'info threads',
  'break counter_inc',
  'continue',
  mark('bt'),
  'bt 3',
  'stepi',
  mark('step'),
  'x/i $pc',
  mark('end'),
  'delete',
  'detach',
];

function assertBasic(run: GdbRun, opts: { shadowIds: number[] } = { shadowIds: [0x8000, 0x8001, 0x8002, 0x8003] }): void {
  assertCleanWire(run);
  const rows = parseInfoThreads(section(run.stdout, 'threads'));
  for (const t of DEMO_THREADS) expect(rows.find((r) => r.tid === t.pid)?.extra, t.comm).toContain(`${t.comm} pid ${t.pid}`);
  for (const [cpu, id] of opts.shadowIds.entries()) {
    expect(rows.find((r) => r.tid === id)?.extra, `shadow CPU${cpu}`).toMatch(new RegExp(`^shadowCPU${cpu}\\b`));
  }
  expect(rows).toHaveLength(CPUS + DEMO_THREADS.length);
  expect(run.stdout).toMatch(/hit Breakpoint 1, 0x[0-9a-f]+ in counter_inc \(\)/);
  expect([...section(run.stdout, 'bt').matchAll(/^#\d+\s+0x[0-9a-f]+ in (\w+)/gm)].map((m) => m[1])).toEqual([
    'counter_inc',
    'counter_loop',
    'counter_thread',
  ]);
  expect(section(run.stdout, 'step')).toMatch(/^=> 0x[0-9a-f]+ <counter_inc\+\d+>:\s+pop\s+%rbp/m);
  expect(run.stdout).toContain('[Inferior 1 (Remote target) detached]');
}

function pidsOf(pattern: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('real gdb through each transport of the CLI', () => {
  it('TCP: `serve --port 0` prints the real port and the gdb command; the basic session works', async () => {
    const elf = tempPath('vmlinux');
    const srv: ChildServer & { match: RegExpMatchArray } = await startCli(
      ['serve', '--port', '0', '--elf', elf, '--cpus', String(CPUS), '--trace'],
      /serving a 4-CPU machine on (127\.0\.0\.1):(\d+) \(modern wire, seed 1\)\nConnect with: +gdb (\S+) -ex 'target remote 127\.0\.0\.1:(\d+)'/,
    );
    cleanups.push(() => srv.kill());
    const [, host, port, elfShown, port2] = srv.match;
    expect(port).not.toBe('0');
    expect(port2).toBe(port);
    expect(elfShown).toBe(elf);
    // gdb loads the ELF the server wrote
    const run = await runGdb({ remote: `${host}:${port}`, elf, commands: BASIC });
    assertBasic(run);
    // the server survives the session and serves the next debugger
    const again = await runGdb({ remote: `${host}:${port}`, elf, commands: ['info threads', 'detach'] });
    assertCleanWire(again);
    expect(parseInfoThreads(again.stdout)).toHaveLength(CPUS + DEMO_THREADS.length);
    expect(srv.stderr()).toMatch(/rsp: session ended \(detach\)/);
    // --trace: every packet both ways on stderr, decoded; stdout has only the banner
    expect(srv.stderr()).toMatch(/^<- qfThreadInfo$/m);
    expect(srv.stderr().split('\n')).toContain(`-> m8000,8001,8002,8003,${DEMO_THREADS.map((t) => t.pid.toString(16)).join(',')}`);
    expect(srv.stderr()).toMatch(/^<- vCont;s:1(;c)?$/m);
    expect(srv.stderr()).toMatch(/^-> T05thread:1;10:/m);
    expect(srv.stdout().split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('stdio: `target remote | kgdb-sim serve --stdio` (stdout carries only protocol bytes)', async () => {
    const cli = requireCli();
    const elf = tempPath('vmlinux');
    const run = await runGdb({
      remote: `| ${process.execPath} ${cli} serve --stdio --elf ${elf} --cpus ${CPUS}`,
      elf: null,
      pre: [],
      commands: [`symbol-file ${elf}`, ...BASIC],
    });
    // The pipe server's stderr is gdb's: our log lines appear there, never on the protocol channel
    // (a stray byte on stdout would show up as gdb junk / a bad packet, which assertBasic rejects).
    assertBasic(run);
    expect(run.stderr).toMatch(/kgdb-sim: 4-CPU machine on stdio/);
    // the server process ends with the session
    await new Promise((r) => setTimeout(r, 500));
    expect(pidsOf(elf)).toEqual([]);
  });

  it('serial: a socat pty pair, `serve --serial A`, gdb `target remote B`; the line stays open for a second gdb', async () => {
    const pty: PtyPair = await ptyPair();
    cleanups.push(() => pty.close());
    const elf = tempPath('vmlinux');
    const srv = await startCli(
      ['serve', '--serial', pty.a, '--baud', '115200', '--elf', elf, '--cpus', String(CPUS)],
      /Connect with: +gdb \S+ -ex 'set serial baud 115200' -ex 'target remote (\S+)'/,
    );
    cleanups.push(() => srv.kill());
    expect(srv.match[1]).toBe(pty.a);
    const run = await runGdb({ remote: pty.b, elf, pre: ['set serial baud 115200'], commands: BASIC });
    assertBasic(run);
    // after D the stub waits on the same line for the next debugger (like kgdboc)
    const again = await runGdb({
      remote: pty.b,
      elf,
      commands: [mark('t'), 'info threads', 'p *(unsigned long *)&counter_value', mark('end'), 'detach'],
    });
    assertCleanWire(again);
    expect(parseInfoThreads(section(again.stdout, 't'))).toHaveLength(CPUS + DEMO_THREADS.length);
    expect(again.stdout).toMatch(/^\$1 = \d+$/m);
  });
});

describe('real gdb and the Linux kgdb wire profile (--wire kgdb)', () => {
  it('gdb debugs through the kgdb profile: S05, no qSupported, Linux thread ids, short g, legacy s/c', async () => {
    const srv = await startSim({ cpus: CPUS, wire: 'kgdb' });
    cleanups.push(() => srv.close());
    const run = await runGdb({ remote: srv.remote, commands: BASIC });
    // kgdb's shadow threads are -cpu-2, i.e. 0xfffffffe for CPU0
    assertBasic(run, { shadowIds: [0xfffffffe, 0xfffffffd, 0xfffffffc, 0xfffffffb] });
    const got = received(run);
    expect(got[0]).toBe(''); // qSupported: empty reply
    expect(got).toContain('S05');
    expect(got.find((p) => p.startsWith('QC'))).toMatch(/^QC[0-9a-f]+$/);
    // 156-byte g (16 GPRs, rip, eflags, cs, ss, ds, es), as Linux x86-64
    const g = sent(run).indexOf('g');
    expect(g).toBeGreaterThanOrEqual(0);
    for (const p of got) if (/^[0-9a-f]{300,}$/.test(p)) expect(p.length).toBe(2 * 156);
    // no vCont in this profile: gdb falls back to s/c
    expect(sent(run)).toContain('vCont?');
    expect(sent(run)).toContain('c');
    expect(sent(run)).toContain('s');
    expect(got.filter((p) => /^T05thread:01;$/.test(p)).length).toBeGreaterThanOrEqual(2);
  });

  it('the CLI: `serve --wire kgdb` speaks the same profile to gdb', async () => {
    const elf = tempPath('vmlinux');
    const srv = await startCli(['serve', '--port', '0', '--wire', 'kgdb', '--elf', elf], /on 127\.0\.0\.1:(\d+) \(kgdb wire/);
    cleanups.push(() => srv.kill());
    const run = await runGdb({ remote: `127.0.0.1:${srv.match[1]}`, elf, commands: BASIC });
    assertBasic(run, { shadowIds: [0xfffffffe, 0xfffffffd, 0xfffffffc, 0xfffffffb] });
    expect(received(run)).toContain('S05');
  });
});
