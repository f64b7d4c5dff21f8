// Real gdb 13 against kgdb-sim: hbreak, watch, rwatch, awatch, and the four
// debug-register slots shared with the kernel's perf user.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HBP_NUM } from '../../src/kernel/layout.js';
import { assertCleanWire, mark, monitor, received, runGdb, section, type SimServer, startSim } from '../gdb/harness.js';
import { expectConsistent, slots, symN, u32 } from './sim.js';

const W = '*(long *)&counter_value';

describe('gdb: hardware breakpoints and watchpoints', () => {
  let srv: SimServer;
  beforeAll(async () => {
    srv = await startSim({ cpus: 4, seed: 1 });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('hbreak stops with hwbreak; watch shows old and new values; rwatch and awatch fire', async () => {
    const run = await runGdb({
      remote: srv.remote,
      commands: [
        'hbreak counter_inc',
        mark('hb'),
        'continue',
        'delete',
        mark('watch'),
        `watch ${W}`,
        'continue',
        'delete',
        mark('rwatch'),
        `rwatch ${W}`,
        'continue',
        'delete',
        mark('awatch'),
        `awatch ${W}`,
        'continue',
        'delete',
        mark('mon'),
        monitor('hwbp'),
        'detach',
      ],
    });
    assertCleanWire(run);
    expect(section(run.stdout, 'hb')).toMatch(/hit Breakpoint 1, (0x[0-9a-f]+ in )?counter_inc \(\)/);
    const w = section(run.stdout, 'watch');
    expect(w).toMatch(/Hardware watchpoint 2: \*\(long \*\)&counter_value/);
    const m = /Old value = (\d+)\s+New value = (\d+)/.exec(w);
    expect(m, w).not.toBeNull();
    expect(Number(m![2])).toBe(Number(m![1]) + 1);
    expect(section(run.stdout, 'rwatch')).toMatch(/Hardware read watchpoint 3: \*\(long \*\)&counter_value\s+Value = \d+/);
    expect(section(run.stdout, 'awatch')).toMatch(/Hardware access \(read\/write\) watchpoint 4: \*\(long \*\)&counter_value\s+(Value = \d+|Old value = \d+\s+New value = \d+)/);
    // the stop replies carried the reasons
    const stops = received(run).filter((p) => /^T05/.test(p));
    expect(stops.some((p) => p.includes('hwbreak:;'))).toBe(true);
    const addr = BigInt.asUintN(64, BigInt(symN('counter_value'))).toString(16);
    for (const k of ['watch', 'rwatch', 'awatch']) expect(stops.some((p) => p.includes(`;${k}:${addr};`)), k).toBe(true);
    expect(section(run.stdout, 'mon')).toMatch(/CPU3: dbg_slots_pinned=\d/);
    // gdb deleted everything and detached: nothing of the debugger's is left
    expect(srv.sim.hw.inUse).toBe(0);
  });

  it('with perf holding a slot gdb gets three; the fourth hbreak fails and the machine keeps going; then four again', async () => {
    const run = await runGdb({
      remote: srv.remote,
      timeoutMs: 60_000,
      commands: [
        'set var *(int *)&perf_bp_hold = 1',
        'break perf_bp_armed',
        'continue',
        'delete',
        mark('held'),
        monitor('hwbp'),
        'hbreak counter_inc',
        'hbreak msleep',
        'hbreak schedule',
        'hbreak printk',
        mark('fourth'),
        'continue',
        mark('after'),
        'delete 5',
        'continue',
        'print *(long *)&counter_value',
        'continue',
        'print *(long *)&counter_value',
        mark('perfdone'),
        'set var *(int *)&perf_bp_hold = 0',
        'delete',
        'break perf_bp_released',
        'continue',
        'delete',
        monitor('hwbp'),
        mark('four'),
        'hbreak counter_inc',
        'hbreak msleep',
        'hbreak schedule',
        'hbreak printk',
        'continue',
        mark('end'),
        monitor('hwbp'),
        'delete',
        'detach',
      ],
    });
    assertCleanWire(run);
    const held = section(run.stdout, 'held');
    for (let c = 0; c < 4; c++) expect(held).toMatch(new RegExp(`CPU${c}: dbg_slots_pinned=3 nr_cpu_bp_pinned=1`));
    expect(held).toMatch(/DR\d: perf addr=0x[0-9a-f]+ <perf_bp_var> type=write len=8/);
    const fourth = section(run.stdout, 'fourth') + run.stderr;
    expect(fourth).toMatch(/Cannot insert hardware breakpoint \d\.\s+Could not insert hardware breakpoints:\s+You may have requested too many hardware breakpoints\/watchpoints\./);
    // the refused Z1 was an error reply, not a wait
    expect(received(run)).toContain('E28');
    const after = section(run.stdout, 'after');
    expect(after).toMatch(/hit Breakpoint [234], /);
    // the machine kept running: both continues after the refusal reached a breakpoint
    expect([...after.matchAll(/hit Breakpoint [234], /g)]).toHaveLength(2);
    expect([...after.matchAll(/^\$\d+ = \d+/gm)]).toHaveLength(2);
    const four = section(run.stdout, 'four');
    expect(four).not.toMatch(/Cannot insert|Could not insert/);
    expect(four).toMatch(/hit Breakpoint (7|8|9|10), /);
    expect(run.all.match(/Could not insert hardware breakpoints/g)).toHaveLength(1);
    // all four of the second round were accepted on the wire
    expect(received(run).filter((p) => p === 'E28')).toHaveLength(1);
    expect(u32(srv.sim.machine.mem, symN('perf_bp_mismatch'))).toBe(0);
    expect(srv.sim.hw.inUse).toBe(0);
  });

  it('after everything: the counters are 4 minus the slots in use on every CPU', async () => {
    srv.sim.core.stopNow(2);
    try {
      expectConsistent(srv.sim.machine, srv.sim.hw);
      for (const s of slots(srv.sim.machine)) expect(s.free + s.pinned).toBeLessThanOrEqual(HBP_NUM);
    } finally {
      srv.sim.core.resume(srv.sim.machine.cpus.map(() => 'continue'));
      srv.sim.runner.kick();
    }
  });
});
