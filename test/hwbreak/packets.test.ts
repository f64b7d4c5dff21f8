// Raw Z1-Z4 packets against an in-process server: every length, every bad
// input (an error that changes nothing), slot exhaustion, the stop reasons,
// `monitor hwbp`, perf's hits never reaching gdb, and Linux kgdb's wire
// answers (E01, Z3 refused). After every sequence the per-CPU counters equal
// 4 minus the slots in use.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HBP_NUM, HBP_OWNER } from '../../src/kernel/layout.js';
import { DebugRegDigest } from '../../src/target/debugregs.js';
import { type SimServer, startSim, sym, waitFor } from '../gdb/harness.js';
import { leHex, parseStop, RawClient, textOf, u64hex } from '../raw/client.js';
import { expectConsistent, slots, symN, u32 } from './sim.js';

const hexOf = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

async function session(srv: SimServer, features = 'swbreak+;hwbreak+'): Promise<RawClient> {
  await waitFor(() => srv.server.active === null, 5000, 'the previous session to end');
  const c = await RawClient.connect(srv.port);
  await c.request(`qSupported:${features}`);
  await c.request('?');
  return c;
}

/** Stop perf for good (a very long period) once its current cycle is over: deterministic slots. */
async function quietPerf(c: RawClient, cont = 'vCont;c'): Promise<void> {
  expect(await c.request(`M${u64hex(sym('perf_bp_period_ms'))},4:ffffff7f`)).toBe('OK');
  expect(await c.request(`M${u64hex(sym('perf_bp_hold'))},4:00000000`)).toBe('OK');
  expect(await c.request(`Z0,${u64hex(sym('perf_bp_cycle_done'))},1`)).toBe('OK');
  expect(await c.request(cont, 30_000)).toMatch(/^T05/);
  const at = sym('perf_bp_cycle_done');
  const rip = leHex(await c.request('p10'));
  if (rip === at + 1n) {
    // no swbreak (kgdb wire): the int3 trap pc; rewind it as gdb would
    const le = Buffer.alloc(8);
    le.writeBigUInt64LE(at);
    expect(await c.request(`P10=${le.toString('hex')}`)).toBe('OK');
  } else expect(rip).toBe(at);
  expect(await c.request(`z0,${u64hex(sym('perf_bp_cycle_done'))},1`)).toBe('OK');
}

const counter = (): string => u64hex(sym('counter_value'));

describe('modern wire: Z1/Z2/Z3/Z4', () => {
  let srv: SimServer;
  let c: RawClient;
  const check = (inUse: number): void => {
    expect(srv.sim.hw.inUse).toBe(inUse);
    expectConsistent(srv.sim.machine, srv.sim.hw);
    for (const s of slots(srv.sim.machine)) expect(s.free).toBe(HBP_NUM - inUse);
  };

  beforeAll(async () => {
    srv = await startSim({ cpus: 4, seed: 5 });
    c = await session(srv);
    await quietPerf(c);
  });
  afterAll(async () => {
    await c?.close();
    await srv?.close();
  });

  it('Z2/Z3/Z4 accept lengths 1, 2, 4, 8 at aligned addresses; z gives the slot back', async () => {
    check(0);
    for (const t of [2, 3, 4]) {
      for (const len of [1, 2, 4, 8]) {
        const a = u64hex(sym('counter_value') + BigInt(8 - len));
        expect(await c.request(`Z${t},${a},${len}`), `Z${t} len ${len}`).toBe('OK');
        check(1);
        expect(await c.request(`z${t},${a},${len}`)).toBe('OK');
        check(0);
      }
    }
  });

  it('Z1 forces the length to 1 (any kind is accepted, as Linux)', async () => {
    const a = u64hex(sym('counter_inc'));
    for (const len of [1, 2, 4, 8]) {
      expect(await c.request(`Z1,${a},${len}`)).toBe('OK');
      check(1);
      expect(srv.sim.hw.breakinfo.find((b) => b.enabled)!.len).toBe(1);
      expect(await c.request(`z1,${a},${len}`)).toBe('OK');
      check(0);
    }
  });

  it('bad length, zero length, misalignment, unknown type, removing what is not set: errors that change nothing', async () => {
    expect(await c.request(`Z2,${counter()},8`)).toBe('OK'); // something set, to see it is left alone
    const snapshot = JSON.stringify([srv.sim.hw.breakinfo, slots(srv.sim.machine)]);
    const base = sym('counter_value');
    const bad: Array<[string, string]> = [
      [`Z2,${counter()},3`, 'E22'],
      [`Z4,${counter()},10`, 'E22'],
      [`Z2,${counter()},0`, 'E22'],
      [`Z4,${counter()},0`, 'E22'],
      [`Z2,${u64hex(base + 1n)},2`, 'E22'],
      [`Z4,${u64hex(base + 2n)},4`, 'E22'],
      [`Z2,${u64hex(base + 4n)},8`, 'E22'],
      [`Z3,${u64hex(base + 1n)},8`, 'E22'],
      [`Z5,${counter()},8`, ''], // unknown type: "not supported"
      [`z2,${u64hex(base + 8n)},8`, 'E02'], // not set
      [`z2,${counter()},4`, 'E02'], // set with another length
      [`z4,${counter()},8`, 'E02'], // set with another type
      [`z1,${u64hex(sym('counter_inc'))},1`, 'E02'],
    ];
    for (const [p, want] of bad) {
      expect(await c.request(p), p).toBe(want);
      expect(JSON.stringify([srv.sim.hw.breakinfo, slots(srv.sim.machine)]), `${p} changed nothing`).toBe(snapshot);
    }
    expect(await c.request(`z2,${counter()},8`)).toBe('OK');
    check(0);
  });

  it('four slots, then E28 (ENOSPC) with nothing changed; all of them back afterwards', async () => {
    const a = (i: number): string => u64hex(sym('counter_value') + BigInt(8 * i));
    for (let i = 0; i < 4; i++) {
      expect(await c.request(`Z2,${a(i)},8`)).toBe('OK');
      check(i + 1);
    }
    expect(await c.request(`Z2,${a(4)},8`)).toBe('E28');
    expect(await c.request(`Z1,${u64hex(sym('counter_inc'))},1`)).toBe('E28');
    check(4);
    for (let i = 0; i < 4; i++) expect(await c.request(`z2,${a(i)},8`)).toBe('OK');
    check(0);
  });

  it('hwbreak / watch / rwatch / awatch stop replies, and `monitor hwbp`', async () => {
    // execute: stops before counter_inc's first instruction
    expect(await c.request(`Z1,${u64hex(sym('counter_inc'))},1`)).toBe('OK');
    let s = parseStop(await c.request('vCont;c', 20_000));
    expect(s.keys.has('hwbreak')).toBe(true);
    expect(leHex(s.regs.get(16)!)).toBe(sym('counter_inc'));
    const mon = textOf(await c.request(`qRcmd,${hexOf('hwbp')}`));
    expect(mon).toMatch(/\[0\] exec addr=0xffffffff[0-9a-f]+ <counter_inc> len=1/);
    expect(mon).toMatch(/CPU0: dbg_slots_pinned=3 nr_cpu_bp_pinned=0/);
    expect(mon).toMatch(/DR7=0x400 \(in debugger: DR7 disabled\)/);
    expect(mon).toMatch(/slot 3: L3\(bit 6\)=0 G3\(bit 7\)=0 RW3\(bits 28-29\)=00 exec LEN3\(bits 30-31\)=00 1/);
    expect(await c.request(`z1,${u64hex(sym('counter_inc'))},1`)).toBe('OK');
    // the next three: data breakpoints on counter_value (inc [counter_value] reads and writes it)
    for (const [t, key] of [[2, 'watch'], [3, 'rwatch'], [4, 'awatch']] as const) {
      expect(await c.request(`Z${t},${counter()},8`)).toBe('OK');
      const before = srv.sim.machine.mem.peek64(symN('counter_value'))!;
      s = parseStop(await c.request('vCont;c', 20_000));
      expect(s.keys.get(key), `${key} reason`).toBe(counter());
      const after = srv.sim.machine.mem.peek64(symN('counter_value'))!;
      expect(after).toBe(before + 1n); // a trap: reported after the inc
      expect(await c.request(`z${t},${counter()},8`)).toBe('OK');
      check(0);
    }
    // the debugger's slots were really installed while running: DR7 showed them
    const mon2 = textOf(await c.request(`qRcmd,${hexOf('hwbp')}`));
    expect(mon2).toMatch(/dbg_slots_pinned=4/);
  });

  it('a read-only watch (Z3, simulator extension) matches reads only; DR7 still says RW=11', () => {
    const d = new DebugRegDigest();
    const addr = symN('counter_value');
    const dr7 = 0x400 | (2 << 0) | ((3 | (2 << 2)) << 16); // slot 0: G0, RW=11, LEN=8
    d.update([addr, 0, 0, 0], dr7, 0b0001);
    expect(d.matchData(addr, 8, true)).toBe(0); // a pure store does not fire
    expect(d.matchData(addr + 4, 4, false)).toBe(1); // a load does
    d.update([addr, 0, 0, 0], dr7, 0); // without the mask: plain x86 read/write
    expect(d.matchData(addr, 8, true)).toBe(1);
    expect(d.matchData(addr, 1, false)).toBe(1);
  });
});

describe('perf and gdb share the slots: dispatch by DR6', () => {
  let srv: SimServer;
  let c: RawClient;
  beforeAll(async () => {
    srv = await startSim({ cpus: 2, seed: 9 });
    c = await session(srv);
    // perf: short cycles, one write every 10 ms
    expect(await c.request(`M${u64hex(sym('perf_bp_period_ms'))},4:0a000000`)).toBe('OK');
  });
  afterAll(async () => {
    await c?.close();
    await srv?.close();
  });

  it('perf hits never reach gdb; gdb hits are never eaten by perf; perf counts every write', async () => {
    const m = srv.sim.machine;
    const reg0 = u32(m.mem, symN('perf_bp_registered'));
    expect(await c.request(`Z2,${counter()},8`)).toBe('OK');
    for (let i = 0; i < 12; i++) {
      const s = parseStop(await c.request('vCont;c', 20_000));
      expect(s.keys.get('watch')).toBe(counter()); // only ever ours
      expectConsistent(m, srv.sim.hw);
    }
    expect(await c.request(`z2,${counter()},8`)).toBe('OK');
    // run on until perf registers again, then until that cycle (4 writes, 4 hits) is over
    for (const at of ['perf_bp_armed', 'perf_bp_cycle_done']) {
      expect(await c.request(`Z0,${u64hex(sym(at))},1`)).toBe('OK');
      expect(await c.request('vCont;c', 20_000)).toMatch(/^T05.*swbreak/);
      expect(await c.request(`z0,${u64hex(sym(at))},1`)).toBe('OK');
    }
    expect(u32(m.mem, symN('perf_bp_registered'))).toBeGreaterThan(reg0);
    expect(u32(m.mem, symN('perf_bp_mismatch'))).toBe(0);
    expect(srv.sim.hw.foreignTraps).toBeGreaterThan(0);
    expectConsistent(m, srv.sim.hw);
  });

  it('a #DB that is both ours and perf\'s stops gdb and still reaches perf', async () => {
    const m = srv.sim.machine;
    expect(await c.request(`Z2,${u64hex(sym('perf_bp_var'))},8`)).toBe('OK');
    let shared = 0;
    for (let i = 0; i < 6; i++) {
      const s = parseStop(await c.request('vCont;c', 20_000));
      expect(s.keys.get('watch')).toBe(u64hex(sym('perf_bp_var')));
      // perf's slot is claimed on this CPU: the same write was perf's too
      if (slots(m).some((x) => x.owners.includes(HBP_OWNER.PERF))) shared++;
    }
    expect(await c.request(`z2,${u64hex(sym('perf_bp_var'))},8`)).toBe('OK');
    expect(shared).toBeGreaterThan(0);
    expect(srv.sim.hw.redelivered).toBeGreaterThan(0);
    // run on until perf has finished the cycles it was in: its count of hits is still exact
    expect(await c.request(`Z0,${u64hex(sym('perf_bp_cycle_done'))},1`)).toBe('OK');
    await c.request('vCont;c', 20_000);
    expect(await c.request(`z0,${u64hex(sym('perf_bp_cycle_done'))},1`)).toBe('OK');
    expect(u32(m.mem, symN('perf_bp_mismatch'))).toBe(0);
    expectConsistent(m, srv.sim.hw);
  });
});

describe('kgdb wire: Linux x86 answers', () => {
  let srv: SimServer;
  let c: RawClient;
  beforeAll(async () => {
    srv = await startSim({ cpus: 2, seed: 4, wire: 'kgdb' });
    await waitFor(() => srv.server.active === null, 5000, 'no session');
    c = await RawClient.connect(srv.port);
    expect(await c.request('?')).toBe('S05');
    await quietPerf(c, 'c');
  });
  afterAll(async () => {
    await c?.close();
    await srv?.close();
  });

  it('Z3 → E01; bad length / misaligned / not set / no slot → E01; the rest OK', async () => {
    expect(await c.request(`Z3,${counter()},8`)).toBe('E01');
    expect(await c.request(`Z2,${counter()},3`)).toBe('E01');
    expect(await c.request(`Z2,${u64hex(sym('counter_value') + 2n)},4`)).toBe('E01');
    expect(await c.request(`z2,${counter()},8`)).toBe('E01');
    expect(srv.sim.hw.inUse).toBe(0);
    for (let i = 0; i < 4; i++) expect(await c.request(`Z4,${u64hex(sym('counter_value') + BigInt(8 * i))},8`)).toBe('OK');
    expect(await c.request(`Z1,${u64hex(sym('counter_inc'))},1`)).toBe('E01');
    expectConsistent(srv.sim.machine, srv.sim.hw);
    // Linux removes by address alone
    for (let i = 0; i < 4; i++) expect(await c.request(`z2,${u64hex(sym('counter_value') + BigInt(8 * i))},1`)).toBe('OK');
    for (const s of slots(srv.sim.machine)) expect(s.free).toBe(HBP_NUM);
    // a hit: T05thread:..; and nothing else in this wire mode
    expect(await c.request(`Z1,${u64hex(sym('counter_inc'))},1`)).toBe('OK');
    expect(await c.request('c', 20_000)).toMatch(/^T05thread:[0-9a-f]+;$/);
    expect(leHex((await c.request('p10')))).toBe(sym('counter_inc'));
    expect(await c.request(`z1,${u64hex(sym('counter_inc'))},1`)).toBe('OK');
  });
});
