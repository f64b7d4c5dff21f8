// Issue 3, proof: gdb's thread-specific operations follow the TASK, not the
// CPU. The counter task is stopped in msleep() on one CPU; `finish` lets it
// sleep, and while it sleeps its CPU is taken by a CPU hog, so it wakes up on
// another CPU (idle_balance pulls it). `finish` must still return to
// counter_loop, reported as the same thread (its pid), now on the new CPU.
//
// Scenario: 3 CPUs, seed 1, the machine held from its first instruction (like
// booting with kgdbwait) so gdb sees the early life of the tasks, when
// counter and crunch/0 share CPU0 and counter is pulled away to another CPU.
// Up to ITERATIONS msleep/finish rounds; at least one must migrate.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertCleanWire, mark, parseInfoThreads, received, runGdb, section, type SimServer, startSim, values,
} from './harness.js';

const ITERATIONS = 6;
let srv: SimServer;

beforeAll(async () => {
  srv = await startSim({ cpus: 3, seed: 1, stopAtBoot: true, clock: { kind: 'none' } });
});
afterAll(async () => {
  await srv?.close();
});

function counterCpu(infoThreads: string): { cpu: number; current: boolean } {
  const row = parseInfoThreads(infoThreads).find((r) => r.tid === 1);
  if (!row) throw new Error(`no counter thread in:\n${infoThreads}`);
  const m = /running on CPU(\d+)$/.exec(row.extra);
  if (!m) throw new Error(`counter is not on a CPU: ${row.extra}`);
  return { cpu: Number(m[1]), current: row.current };
}

function frames(bt: string): Array<{ fn: string; pc: bigint }> {
  return [...bt.matchAll(/^#\d+\s+(?:0x([0-9a-f]+) in )?(\S+) \(/gm)].map((m) => ({ fn: m[2]!, pc: m[1] ? BigInt('0x' + m[1]) : 0n }));
}

describe('real gdb: finish follows a task that migrates between CPUs', () => {
  it('finish out of msleep returns to counter_loop on the counter thread, after it moved to another CPU', async () => {
    // the condition picks counter_loop's msleep() call (other threads sleep too)
    const commands = ['break msleep if $_caller_is("counter_loop")'];
    for (let i = 0; i < ITERATIONS; i++) {
      commands.push(
        'continue',
        mark(`before${i}`),
        'info threads',
        'bt 2',
        'finish',
        mark(`after${i}`),
        'p/x $pc',
        'bt 1',
        'info threads',
      );
    }
    commands.push(mark('end'), 'delete', 'detach');
    const run = await runGdb({ remote: srv.remote, commands, timeoutMs: 90_000 });
    assertCleanWire(run);
    const out = run.stdout;
    const moves: string[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const before = section(out, `before${i}`);
      const after = section(out, `after${i}`);
      const b = counterCpu(before);
      const a = counterCpu(after);
      // stopped in msleep called from counter_loop, on the counter thread
      expect(b.current, `iteration ${i}: counter is the stopped thread`).toBe(true);
      const bt = frames(before);
      expect(bt.map((f) => f.fn)).toEqual(['msleep', 'counter_loop']);
      // finish returned right after the call in counter_loop, still on the counter thread
      expect(a.current, `iteration ${i}: finish stopped the counter thread`).toBe(true);
      expect(BigInt(values(after)[0]!)).toBe(bt[1]!.pc);
      expect(frames(after)[0]!.fn).toBe('counter_loop');
      if (a.cpu !== b.cpu) moves.push(`iteration ${i}: CPU${b.cpu} → CPU${a.cpu}`);
    }
    if (process.env.KGDB_TEST_LOG) console.log(moves);
    expect(moves.length, 'the counter task never migrated during a finish').toBeGreaterThan(0);
    // every stop gdb saw for those finishes named the counter task (pid 1), never a CPU's shadow thread
    const stops = received(run).filter((p) => /^T05/.test(p));
    expect(stops.filter((p) => p.startsWith('T05thread:1;')).length).toBeGreaterThanOrEqual(2 * ITERATIONS);
  }, 120_000);
});
