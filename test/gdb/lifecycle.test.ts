// Issue 3, proof: the life of a debugger connection with real gdb 13 over TCP —
// Ctrl-C from a running state, detach and reconnect to a running machine, one
// debugger at a time, `kill`, and a gdb that dies (SIGKILL) mid-session.

import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertCleanWire, mark, parseInfoThreads, received, runGdb, section, sent, type SimServer, sleep, startSim, symNum,
  values, waitFor,
} from './harness.js';

let srv: SimServer;

beforeAll(async () => {
  srv = await startSim({ cpus: 4, seed: 7 });
});
afterAll(async () => {
  await srv?.close();
});

/** The machine runs free with nobody attached, no breakpoint planted and no CPU held. */
function assertRunningFree(s: SimServer): void {
  const { core, machine } = s.sim;
  expect(core.state).toBe('running');
  expect(core.master).toBe(-1);
  expect(core.sw.size).toBe(0);
  expect(machine.cpus.filter((c) => c.frozen).map((c) => c.id)).toEqual([]);
}

/** Resolve once gdb's packet log shows it sent a packet matching re. */
function whenSent(re: RegExp): { onSpawn: (c: ChildProcess, out: () => string) => void; seen: Promise<ChildProcess> } {
  let resolve!: (c: ChildProcess) => void;
  const seen = new Promise<ChildProcess>((r) => (resolve = r));
  return {
    seen,
    onSpawn: (child, out) => {
      const poll = setInterval(() => {
        if (re.test(out())) {
          clearInterval(poll);
          resolve(child);
        }
      }, 20);
      child.on('close', () => clearInterval(poll));
    },
  };
}

const u64 = (s: SimServer, name: string): number => Number(s.sim.machine.mem.peek64(symNum(name)) ?? -1n);

describe('real gdb: connection life cycle (TCP)', () => {
  it('Ctrl-C (SIGINT to gdb) stops a running machine: T02, gdb shows SIGINT and keeps working', async () => {
    const w = whenSent(/Sending packet: \$vCont;c#/);
    const gdb = runGdb({
      remote: srv.remote,
      commands: ['continue', mark('after'), 'p/x $pc', 'info threads', 'bt 1', mark('end'), 'detach'],
      onSpawn: w.onSpawn,
    });
    const child = await w.seen;
    await sleep(700); // let it run
    expect(srv.sim.core.state).toBe('running');
    child.kill('SIGINT');
    const run = await gdb;
    assertCleanWire(run);
    expect(run.stdout).toMatch(/received signal SIGINT, Interrupt\./);
    const stops = received(run).filter((p) => /^T[0-9a-f]{2}thread:/.test(p));
    expect(stops.at(-1)).toMatch(/^T02thread:[0-9a-f]+;10:[0-9a-f]{16};07:[0-9a-f]{16};06:[0-9a-f]{16};$/);
    // the interrupt travelled as a bare 0x03 (gdb logs it as the interrupt request)
    expect(run.stderr).toMatch(/interrupt/i);
    const after = section(run.stdout, 'after');
    expect(values(after)[0]).toMatch(/^0xffffffff8[0-9a-f]+$/);
    expect(parseInfoThreads(after).length).toBeGreaterThanOrEqual(4);
    assertRunningFree(srv);
  });

  it('detach leaves the machine running; a second gdb connects later and stops it (time advanced)', async () => {
    const first = await runGdb({
      remote: srv.remote,
      commands: ['break counter_inc', 'continue', mark('j'), 'p *(unsigned long *)&jiffies', 'p *(unsigned long *)&counter_value', 'detach'],
    });
    assertCleanWire(first);
    expect(first.stdout).toContain('[Inferior 1 (Remote target) detached]');
    expect(sent(first).at(-1)).toBe('D');
    const [j1, c1] = values(section(first.stdout, 'j')).map(BigInt);
    // after D: breakpoints gone, every CPU released, nobody attached
    await waitFor(() => srv.server.active === null, 5000, 'the session to end');
    assertRunningFree(srv);
    const t0 = srv.sim.machine.now;
    await waitFor(() => srv.sim.machine.now > t0 + 50_000_000, 20_000, '50 ms of machine time to pass');
    expect(srv.sim.core.state).toBe('running');

    const second = await runGdb({
      remote: srv.remote,
      commands: [mark('j'), 'p *(unsigned long *)&jiffies', 'p *(unsigned long *)&counter_value', 'info threads', mark('end'), 'detach'],
    });
    assertCleanWire(second);
    const [j2, c2] = values(section(second.stdout, 'j')).map(BigInt);
    expect(j2! - j1!).toBeGreaterThanOrEqual(5n); // ≥ 50 ms of ticks at HZ=100
    expect(c2!).toBeGreaterThan(c1!); // the counter kept counting while nobody watched
    // the connect stopped the running machine: `?` answered with a T stop reply
    expect(received(second).find((p) => /^T[0-9a-f]{2}/.test(p))).toMatch(/^T05thread:/);
    expect(parseInfoThreads(section(second.stdout, 'j')).length).toBeGreaterThanOrEqual(4);
  });

  it('one debugger at a time: a second TCP connection is refused; the first keeps working', async () => {
    const w = whenSent(/Packet received: OK[\s\S]*qfThreadInfo/);
    const firstP = runGdb({
      remote: srv.remote,
      commands: ['info threads', 'python import time; time.sleep(3)', mark('still'), 'info threads', 'p/x $pc', mark('end'), 'detach'],
      onSpawn: w.onSpawn,
    });
    await w.seen;
    await waitFor(() => srv.server.active !== null, 5000, 'the first session');
    const logsBefore = srv.logs.length;
    const second = await runGdb({ remote: srv.remote, commands: ['info threads'], timeoutMs: 20_000 });
    expect(second.all).toMatch(/Connection reset by peer|Remote connection closed|Connection refused|not responding|Remote communication error/);
    expect(second.stdout).not.toMatch(/Thread \d+/);
    expect(srv.logs.slice(logsBefore).join('\n')).toMatch(/refused connection from 127\.0\.0\.1:\d+: a debugger is already connected/);
    const first = await firstP;
    assertCleanWire(first);
    const still = section(first.stdout, 'still');
    expect(parseInfoThreads(still).length).toBeGreaterThanOrEqual(4);
    expect(values(still)[0]).toMatch(/^0x[0-9a-f]+$/);
    expect(first.stdout).toContain('[Inferior 1 (Remote target) detached]');
  });

  it('gdb SIGKILLed while the machine runs with a breakpoint planted: int3 removed, CPUs free, next gdb served', async () => {
    const panicAt = symNum('panic');
    const w = whenSent(/Sending packet: \$vCont;c#/);
    const gdb = runGdb({ remote: srv.remote, commands: ['break panic', 'continue', 'echo never\\n'], onSpawn: w.onSpawn, expectKill: true });
    const child = await w.seen;
    // running, with the int3 planted in panic()
    await waitFor(() => srv.sim.core.state === 'running' && srv.sim.core.sw.size === 1, 5000, 'the breakpoint');
    expect([...srv.sim.machine.mem.peek(panicAt, 32)!]).toContain(0xcc);
    child.kill('SIGKILL');
    const run = await gdb;
    expect(run.signal).toBe('SIGKILL');
    await waitFor(() => srv.server.active === null, 5000, 'the server to notice');
    assertRunningFree(srv);
    // no 0xCC left behind anywhere in panic()
    const bytes = srv.sim.machine.mem.peek(panicAt, 32)!;
    expect([...bytes]).not.toContain(0xcc);
    expect(srv.logs.join('\n')).toMatch(/connection (closed by the debugger|lost)/);
    // the next debugger is served normally
    const next = await runGdb({ remote: srv.remote, commands: ['break counter_inc', 'continue', 'bt 2', 'detach'] });
    assertCleanWire(next);
    expect(next.stdout).toMatch(/hit Breakpoint 1, 0x[0-9a-f]+ in counter_inc \(\)/);
  });

  it('gdb SIGKILLed while the machine is stopped: the machine resumes by itself and keeps running', async () => {
    const w = whenSent(/Packet received: T05thread:1;/);
    const gdb = runGdb({
      remote: srv.remote,
      commands: ['break counter_inc', 'continue', 'python import time; time.sleep(30)'],
      onSpawn: w.onSpawn,
      expectKill: true,
    });
    const child = await w.seen;
    await waitFor(() => srv.sim.core.state === 'stopped', 5000, 'the stop');
    const counter = u64(srv, 'counter_value');
    child.kill('SIGKILL');
    await gdb;
    await waitFor(() => srv.server.active === null, 5000, 'the server to notice');
    assertRunningFree(srv);
    await waitFor(() => u64(srv, 'counter_value') > counter + 300, 20_000, 'the counter to move on');
    const next = await runGdb({ remote: srv.remote, commands: ['info threads', 'detach'] });
    assertCleanWire(next);
    expect(parseInfoThreads(next.stdout).length).toBeGreaterThanOrEqual(4);
  });

  it('gdb `kill` ends the session like detach: machine running, next connection served', async () => {
    const run = await runGdb({ remote: srv.remote, commands: ['break counter_inc', 'continue', 'kill', 'echo killed\\n'] });
    assertCleanWire(run);
    expect(run.stdout).toMatch(/killed/);
    expect(sent(run)).toContain('k');
    await waitFor(() => srv.server.active === null, 5000, 'the session to end');
    assertRunningFree(srv);
    const next = await runGdb({ remote: srv.remote, commands: ['p *(unsigned long *)&counter_value', 'detach'] });
    assertCleanWire(next);
    expect(values(next.stdout)[0]).toMatch(/^\d+$/);
  });
});
