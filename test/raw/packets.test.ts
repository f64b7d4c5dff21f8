// Issue 3, proof: every behaviour of the stub, and every bad input, packet by
// packet over a real TCP socket to the real machine (in-process server, 4
// CPUs). The client (client.ts) is strict: it checks every checksum, expands
// RLE itself, and fails on junk, a missing ack or an unexpected packet.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_THREADS } from '../../src/kernel/demo.js';
import { findSymbol } from '../../src/kernel/link.js';
import { PERCPU_STRIDE } from '../../src/kernel/layout.js';
import { SHADOW_BASE } from '../../src/kgdb/threads.js';
import { join64 } from '../../src/target/cpu.js';
import { image, type SimServer, startSim, sym, symNum, waitFor } from '../gdb/harness.js';
import {
  escapeBinary, frame, hex, leHex, parseStop, parseTargetXml, RawClient, textOf, u64hex, unescapeBinary, unhex,
  type XmlReg,
} from './client.js';

let srv: SimServer;
const clients: RawClient[] = [];

beforeAll(async () => {
  srv = await startSim({ cpus: 4, seed: 3 });
});
afterAll(async () => {
  await srv?.close();
});
afterEach(async () => {
  while (clients.length > 0) await clients.pop()!.close();
  await waitFor(() => srv.server.active === null, 5000, 'the session to end');
});

async function connect(): Promise<RawClient> {
  await waitFor(() => srv.server.active === null, 5000, 'the previous session to end');
  const c = await RawClient.connect(srv.port);
  clients.push(c);
  return c;
}

/** Connect and stop the machine with `?`; returns the client and the stop reply. */
async function stopped(): Promise<{ c: RawClient; stop: ReturnType<typeof parseStop>; text: string }> {
  const c = await connect();
  const text = await c.request('?');
  return { c, stop: parseStop(text), text };
}

/** Run to the breakpoint in counter_inc: the machine stops on the counter task (pid 1). */
async function atCounterInc(c: RawClient, swbreak = false): Promise<ReturnType<typeof parseStop>> {
  const bp = bpAddr();
  expect(await c.request(`Z0,${u64hex(bp)},1`)).toBe('OK');
  const stop = parseStop(await c.request('vCont;c', 20_000)); // the reply comes when it stops
  expect(stop.thread).toBe('1');
  expect(await c.request(`z0,${u64hex(bp)},1`)).toBe('OK');
  expect(leHex(stop.regs.get(16)!)).toBe(swbreak ? bp : bp + 1n);
  return stop;
}

/** Address of the `inc` in counter_inc (after `push rbp; mov rbp, rsp`). */
function bpAddr(): bigint {
  return sym('counter_inc') + 4n;
}

/** Scratch memory nobody uses on a 4-CPU machine: per-CPU areas of CPUs 16 and up. */
const SCRATCH = sym('per_cpu_area') + BigInt(16 * PERCPU_STRIDE);
const SCRATCH_SIZE = (256 - 16) * PERCPU_STRIDE;

function imageEnd(): bigint {
  let end = 0n;
  for (const s of image().sections) {
    const e = BigInt.asUintN(64, s.addr) + BigInt(s.size);
    if (e > end) end = e;
  }
  return (end + 0xfffn) & ~0xfffn;
}

function imageBytes(addr: bigint, len: number): Buffer {
  for (const s of image().sections) {
    const a = BigInt.asUintN(64, s.addr);
    if (addr >= a && addr + BigInt(len) <= a + BigInt(s.bytes.length)) {
      const o = Number(addr - a);
      return Buffer.from(s.bytes.subarray(o, o + len));
    }
  }
  throw new Error('not in an initialised section');
}

/** Read target.xml with qXfer, chunk by chunk. */
async function fetchXml(c: RawClient, annex = 'target.xml', chunk = 0x100): Promise<string> {
  let out = Buffer.alloc(0);
  for (let off = 0; ; ) {
    const r = await c.requestBytes(`qXfer:features:read:${annex}:${off.toString(16)},${chunk.toString(16)}`);
    expect([0x6d, 0x6c]).toContain(r[0]); // 'm' more / 'l' last
    const data = unescapeBinary(r.subarray(1));
    expect(data.length).toBeLessThanOrEqual(chunk);
    out = Buffer.concat([out, data]);
    off += data.length;
    if (r[0] === 0x6c) break;
    expect(data.length).toBeGreaterThan(0);
  }
  return out.toString('utf8');
}

// ------------------------------------------------------------------ tests

describe('raw packets: stop state, threads, registers', () => {
  it('`?` stops the running machine with a T05 naming the thread and expediting rip/rsp/rbp; qC agrees', async () => {
    expect(srv.sim.core.state).toBe('running');
    const { c, stop, text } = await stopped();
    expect(text).toMatch(/^T05thread:[0-9a-f]+;10:[0-9a-f]{16};07:[0-9a-f]{16};06:[0-9a-f]{16};$/);
    expect(srv.sim.core.state).toBe('stopped');
    expect(await c.request('qC')).toBe(`QC${stop.thread}`);
    // the expedited rip is the stopped CPU's (the thread's) rip
    expect(await c.request('p10')).toBe(stop.regs.get(0x10));
    expect(await c.request('p7')).toBe(stop.regs.get(7));
    // `?` again: same stop, machine still stopped
    expect(await c.request('?')).toBe(text);
  });

  it('qfThreadInfo/qsThreadInfo list the 4 shadow threads and every task; T says alive; qThreadExtraInfo describes them', async () => {
    const { c } = await stopped();
    const first = await c.request('qfThreadInfo');
    expect(first).toMatch(/^m[0-9a-f]+(,[0-9a-f]+)*$/);
    const ids = first.slice(1).split(',');
    let more = await c.request('qsThreadInfo');
    while (more !== 'l') {
      expect(more).toMatch(/^m/);
      ids.push(...more.slice(1).split(','));
      more = await c.request('qsThreadInfo');
    }
    // all of them fit one packet (as few packets as fit)
    expect(first.slice(1).split(',')).toHaveLength(ids.length);
    const expected = [0, 1, 2, 3].map((n) => (SHADOW_BASE + n).toString(16)).concat(DEMO_THREADS.map((t) => t.pid.toString(16)));
    expect(ids).toEqual(expected);
    for (const id of ids) expect(await c.request(`T${id}`)).toBe('OK');
    for (let n = 0; n < 4; n++) {
      expect(textOf(await c.request(`qThreadExtraInfo,${(SHADOW_BASE + n).toString(16)}`))).toMatch(
        new RegExp(`^shadowCPU${n} \\((idle|running pid \\d+)\\)$`),
      );
    }
    for (const t of DEMO_THREADS) {
      const extra = textOf(await c.request(`qThreadExtraInfo,${t.pid.toString(16)}`));
      expect(extra).toMatch(new RegExp(`^${t.comm} pid ${t.pid} (running on|runnable last|sleeping last) CPU[0-3]$`));
      // the CPU named agrees with the machine
      const view = srv.sim.kernel.tasks().find((x) => x.pid === t.pid)!;
      expect(extra.endsWith(`CPU${view.onCpu >= 0 ? view.onCpu : view.cpu}`)).toBe(true);
    }
    // the list is refreshed by every qfThreadInfo
    expect(await c.request('qfThreadInfo')).toBe(first);
  });

  it('unknown or malformed thread ids are errors (Hg, Hc, T, qThreadExtraInfo, vCont) and change nothing', async () => {
    const { c, stop } = await stopped();
    const g = await c.request('g');
    for (const bad of ['Hg1234', 'Hc1234', 'Hgzz', 'Hg', 'Hx1', `Hg${(SHADOW_BASE + 4).toString(16)}`, 'Hgp1.1']) {
      expect(await c.request(bad), bad).toMatch(/^E\d\d$/);
    }
    for (const bad of ['T1234', 'T0', 'Tzz', `T${(SHADOW_BASE + 4).toString(16)}`, 'qThreadExtraInfo,1234', 'qThreadExtraInfo,zz']) {
      expect(await c.request(bad), bad).toMatch(/^E\d\d$/);
    }
    expect(await c.request('vCont;s:1234')).toMatch(/^E\d\d$/);
    expect(await c.request('vCont;c:zz')).toMatch(/^E\d\d$/);
    // still stopped, same thread, same registers
    expect(srv.sim.core.state).toBe('stopped');
    expect(await c.request('qC')).toBe(`QC${stop.thread}`);
    expect(await c.request('g')).toBe(g);
  });

  it('target.xml (qXfer) describes exactly what g/p return, byte for byte; G/P accept exactly that and reject the rest', async () => {
    const { c } = await stopped();
    const xml = await fetchXml(c);
    expect(xml).toMatch(/<architecture>i386:x86-64<\/architecture>/);
    const regs: XmlReg[] = parseTargetXml(xml);
    const names = regs.map((r) => r.name);
    for (const n of ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r15', 'rip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs',
      'fs_base', 'gs_base', 'cr0', 'cr2', 'cr3', 'cr4', 'dr0', 'dr1', 'dr2', 'dr3', 'dr6', 'dr7', 'st0', 'xmm15', 'mxcsr']) {
      expect(names, n).toContain(n);
    }
    expect(regs.map((r) => r.regnum)).toEqual(regs.map((_, i) => i)); // dense numbering, g order
    expect(regs.find((r) => r.name === 'rip')!.regnum).toBe(16);
    expect(regs.find((r) => r.name === 'rsp')!.regnum).toBe(7);
    // bigger chunks give the same document; an unknown annex / offset past the end is an error
    expect(await fetchXml(c, 'target.xml', 0x7fff)).toBe(xml);
    expect(await c.request('qXfer:features:read:nosuch.xml:0,100')).toMatch(/^E\d\d$/);
    expect(await c.request(`qXfer:features:read:target.xml:${(xml.length + 10).toString(16)},100`)).toMatch(/^E\d\d$/);

    const totalBytes = regs.reduce((s, r) => s + r.bits / 8, 0);
    const g = await c.request('g');
    expect(g).toMatch(/^[0-9a-f]*$/);
    expect(g.length).toBe(2 * totalBytes);
    let off = 0;
    for (const r of regs) {
      const p = await c.request(`p${r.regnum.toString(16)}`);
      expect(p.length, r.name).toBe(r.bits / 4);
      expect(p, r.name).toBe(g.slice(off, off + r.bits / 4));
      off += r.bits / 4;
    }
    // registers beyond the description
    expect(await c.request(`p${regs.length.toString(16)}`)).toMatch(/^E\d\d$/);
    expect(await c.request('pffff')).toMatch(/^E\d\d$/);
    expect(await c.request('pzz')).toMatch(/^E\d\d$/);
    expect(await c.request('p')).toMatch(/^E\d\d$/);
    expect(await c.request('g00')).toMatch(/^E\d\d$/);

    // G: exactly the block g returned round-trips; wrong sizes / bad hex are rejected and change nothing
    expect(await c.request('G' + g)).toBe('OK');
    expect(await c.request('g')).toBe(g);
    for (const bad of ['G' + g.slice(2), 'G' + g + '00', 'G' + g.slice(0, -1), 'G' + 'zz' + g.slice(2), 'G']) {
      expect(await c.request(bad)).toMatch(/^E\d\d$/);
    }
    expect(await c.request('g')).toBe(g);
    // G that changes rax (a GPR) takes effect, and can be undone
    const raxNew = 'efbeadde00000000';
    expect(await c.request('G' + raxNew + g.slice(16))).toBe('OK');
    expect(await c.request('p0')).toBe(raxNew);
    expect(await c.request('G' + g)).toBe('OK');
    // P: right size only
    const rip = await c.request('p10');
    expect(await c.request(`P10=${rip}`)).toBe('OK');
    expect(await c.request(`P10=${rip}00`)).toMatch(/^E\d\d$/);
    expect(await c.request(`P10=${rip.slice(2)}`)).toMatch(/^E\d\d$/);
    expect(await c.request(`P${regs.length.toString(16)}=00000000`)).toMatch(/^E\d\d$/);
    expect(await c.request('P10=zz')).toMatch(/^E\d\d$/);
    expect(await c.request('P10')).toMatch(/^E\d\d$/);
    // a non-canonical rip is refused
    expect(await c.request('P10=0000000000800000')).toMatch(/^E\d\d$/);
    expect(await c.request('p10')).toBe(rip);
    expect(await c.request('g')).toBe(g);
  });

  it('Hg selects whose registers g/p show, never the stop thread; a sleeping task shows its saved switch frame', async () => {
    const { c } = await stopped();
    const stop = await atCounterInc(c);
    expect(stop.thread).toBe('1');
    const mine = await c.request('g');
    const tasks = srv.sim.kernel.tasks();
    const counterCpu = tasks.find((t) => t.pid === 1)!.onCpu;
    expect(counterCpu).toBe(srv.sim.core.entry?.cpu);
    // another CPU's live registers, through its shadow thread (every CPU has one, busy or idle)
    const otherCpu = (counterCpu + 1) % 4;
    expect(await c.request(`Hg${(SHADOW_BASE + otherCpu).toString(16)}`)).toBe('OK');
    const theirs = await c.request('g');
    expect(theirs).not.toBe(mine);
    expect(theirs.length).toBe(mine.length);
    expect(leHex(await c.request('p10'))).toBe(BigInt.asUintN(64, BigInt(srv.sim.machine.cpus[otherCpu]!.rip)));
    const oc = srv.sim.machine.cpus[otherCpu]!;
    expect(leHex(await c.request('p7'))).toBe(BigInt.asUintN(64, BigInt(join64(oc.r[8]!, oc.r[9]!)))); // rsp = x86 reg 4
    // P/G go to the Hg thread too: write that CPU's rax, read it back, put it back
    const rax = await c.request('p0');
    expect(await c.request('P0=1122334455667788')).toBe('OK');
    expect(await c.request('p0')).toBe('1122334455667788');
    expect([oc.r[0]! >>> 0, oc.r[1]! >>> 0]).toEqual([0x44332211, 0x88776655]); // the live register (x86 reg 0)
    expect(await c.request(`P0=${rax}`)).toBe('OK');
    expect(await c.request('g')).toBe(theirs);
    // a task current on another CPU shows exactly that CPU's registers
    for (const t of tasks.filter((x) => x.onCpu >= 0 && x.pid !== 1)) {
      expect(await c.request(`Hg${t.pid.toString(16)}`)).toBe('OK');
      const g = await c.request('g');
      expect(await c.request(`Hg${(SHADOW_BASE + t.onCpu).toString(16)}`)).toBe('OK');
      expect(await c.request('g')).toBe(g);
    }
    // the stop thread did not move
    expect(await c.request('qC')).toBe('QC1');
    expect(srv.sim.core.entry?.cpu).toBe(counterCpu);
    // a task not on any CPU: rip/rsp/rbp from its inactive_task_frame (rip inside schedule or ret_from_fork)
    const off = tasks.find((t) => t.onCpu < 0)!; // 5 tasks, 4 CPUs: one is always off-CPU
    expect(off).toBeDefined();
    expect(await c.request(`Hg${off.pid.toString(16)}`)).toBe('OK');
    const rip = leHex(await c.request('p10'));
    const inFn = (name: string): boolean => {
      const s = findSymbol(image(), name)!;
      const a = BigInt.asUintN(64, s.addr);
      return rip >= a && rip < a + BigInt(s.size);
    };
    expect(inFn('schedule') || inFn('ret_from_fork'), `rip ${rip.toString(16)}`).toBe(true);
    expect(leHex(await c.request('p7'))).toBe(BigInt.asUintN(64, BigInt(off.saved.rsp)));
    expect(leHex(await c.request('p6'))).toBe(BigInt.asUintN(64, BigInt(off.saved.rbp)));
    // writing a sleeping task's registers is refused (they are not live)
    expect(await c.request(`P10=${u64hex(rip).match(/../g)!.reverse().join('')}`)).toMatch(/^E\d\d$/);
    // Hg0: back to the stop thread
    expect(await c.request('Hg0')).toBe('OK');
    expect(await c.request('g')).toBe(mine);
  });
});

describe('raw packets: memory', () => {
  it('m reads what the image holds; zero lengths are no-op successes, even on unmapped addresses', async () => {
    const { c } = await stopped();
    const at = sym('counter_inc');
    expect(await c.request(`m${u64hex(at)},10`)).toBe(hex(imageBytes(at, 16)));
    const before = await c.request(`m${u64hex(SCRATCH)},10`);
    expect(await c.request(`m${u64hex(SCRATCH)},0`)).toBe('');
    expect(await c.request(`M${u64hex(SCRATCH)},0:`)).toBe('OK');
    expect(await c.request(`X${u64hex(SCRATCH)},0:`)).toBe('OK');
    expect(await c.request('m0,0')).toBe('');
    expect(await c.request('M0,0:')).toBe('OK');
    expect(await c.request('Xffffffffffffffff,0:')).toBe('OK');
    expect(await c.request(`m${u64hex(SCRATCH)},10`)).toBe(before);
  });

  it('M and X write; X carries escaped binary; both read back with m', async () => {
    const { c } = await stopped();
    const a = SCRATCH + 0x40n;
    expect(await c.request(`M${u64hex(a)},4:deadbeef`)).toBe('OK');
    expect(await c.request(`m${u64hex(a)},4`)).toBe('deadbeef');
    const data = Buffer.from([0x23, 0x24, 0x7d, 0x2a, 0x00, 0xff, 0x03, 0x2b, 0x2d]);
    expect(await c.request(Buffer.concat([Buffer.from(`X${u64hex(a)},${data.length.toString(16)}:`), escapeBinary(data)]))).toBe('OK');
    expect(await c.request(`m${u64hex(a)},${data.length.toString(16)}`)).toBe(hex(data));
    expect(srv.sim.machine.mem.peek(Number(BigInt.asIntN(64, a)), data.length)).toEqual(new Uint8Array(data));
  });

  it('a range wrapping past 2^64 is an error and writes nothing; a range ending exactly at 2^64 is just unmapped', async () => {
    const { c } = await stopped();
    const low = await c.request(`m${u64hex(SCRATCH)},8`);
    for (const p of ['mffffffffffffffff,2', 'mfffffffffffffff0,20', 'Mffffffffffffffff,2:1122', 'Xfffffffffffffffe,4:abcd']) {
      expect(await c.request(p), p).toBe('E22');
    }
    expect(await c.request('mfffffffffffffff0,10')).toBe('E14');
    expect(await c.request('mffffffffffffffff,1')).toBe('E14');
    expect(await c.request('m0,2')).toBe('E14'); // nothing appeared at the wrapped-to address
    expect(await c.request(`m${u64hex(SCRATCH)},8`)).toBe(low);
    // addresses beyond 64 bits
    expect(await c.request('m10000000000000000,1')).toMatch(/^E\d\d$/);
  });

  it('any unmapped byte in the range fails the whole request with E14 and no partial write', async () => {
    const { c } = await stopped();
    // end of the image: mapped below, unmapped from here
    const end = imageEnd();
    expect(await c.request(`m${u64hex(end - 1n)},1`)).toMatch(/^[0-9a-f]{2}$/);
    expect(await c.request(`m${u64hex(end)},1`)).toBe('E14');
    const tailBefore = await c.request(`m${u64hex(end - 2n)},2`);
    expect(await c.request(`m${u64hex(end - 2n)},4`)).toBe('E14');
    expect(await c.request(`M${u64hex(end - 2n)},4:a1b2c3d4`)).toBe('E14');
    expect(await c.request(Buffer.concat([Buffer.from(`X${u64hex(end - 2n)},4:`), Buffer.from([1, 2, 3, 4])]))).toBe('E14');
    expect(await c.request(`m${u64hex(end - 2n)},2`)).toBe(tailBefore);
    // start of the image: unmapped below .text
    const text = sym('startup_64') & ~0xfffn;
    const headBefore = await c.request(`m${u64hex(text)},2`);
    expect(headBefore).toBe(hex(imageBytes(text, 2)));
    expect(await c.request(`M${u64hex(text - 2n)},4:90909090`)).toBe('E14');
    expect(await c.request(`m${u64hex(text)},2`)).toBe(headBefore);
    // non-canonical addresses
    expect(await c.request('m0000800000000000,4')).toBe('E14');
    expect(await c.request('M0000800000000000,1:00')).toBe('E14');
  });

  it('bad hex, a length that disagrees with the data, and oversize lengths are errors that change nothing', async () => {
    const { c } = await stopped();
    const a = SCRATCH + 0x80n;
    const A = u64hex(a);
    expect(await c.request(`M${A},4:00000000`)).toBe('OK');
    const cases = [
      `m${A}`, `m${A},`, `m,4`, `mzz,4`, `m${A},zz`, `m${A},4,4`, `m-1,4`,
      `M${A},4:zz000000`, `M${A},4:0000000`, `M${A},4:0011`, `M${A},2:00112233`, `M${A},4`, `M${A}:00`, `Mzz,1:00`,
      `X${A},4:ab`, `X${A},1:abcd`, `X${A}`,
      `m${A},10001`, // 0x10001 bytes = 0x20002 hex chars: more than PacketSize
      `m${A},ffffffffffffffff`,
      `M${A},20001:00`,
    ];
    for (const p of cases) expect(await c.request(p), p).toBe('E22');
    expect(await c.request(`m${A},4`)).toBe('00000000');
    // the largest m that fits a packet works
    expect((await c.request(`m${u64hex(SCRATCH)},10000`)).length).toBe(0x20000);
  });

  it('accepts every packet up to PacketSize (0x20000): a full-size X, a 64 KiB M; one byte more is refused, stub in sync', async () => {
    const { c } = await stopped();
    const sup = await c.request('qSupported:swbreak+;xmlRegisters=i386');
    const size = parseInt(/PacketSize=([0-9a-f]+)/.exec(sup)![1]!, 16);
    expect(size).toBeGreaterThanOrEqual(0x20000);
    // X whose payload is exactly PacketSize bytes (data chosen so nothing needs escaping)
    const head = (n: number): string => `X${u64hex(SCRATCH)},${n.toString(16)}:`;
    let n = size - head(size).length;
    while (head(n).length + n !== size) n++;
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i++) data[i] = 0x41 + (i % 26);
    expect(head(n).length + n).toBe(size);
    expect(n).toBeLessThanOrEqual(SCRATCH_SIZE);
    expect(await c.request(Buffer.concat([Buffer.from(head(n)), data]), 20_000)).toBe('OK');
    const back = srv.sim.machine.mem.peek(Number(BigInt.asIntN(64, SCRATCH)), n)!;
    expect(Buffer.from(back).equals(data)).toBe(true);
    // M of 0xfff0 bytes (its hex fills the packet), read back in one m
    const m = Buffer.alloc(0xfff0);
    for (let i = 0; i < m.length; i++) m[i] = (i * 7) & 0xff;
    expect(await c.request(`M${u64hex(SCRATCH)},fff0:${hex(m)}`, 20_000)).toBe('OK');
    expect(await c.request(`m${u64hex(SCRATCH)},fff0`, 20_000)).toBe(hex(m));
    // one byte over PacketSize: acked and refused, then business as usual
    expect(await c.request('q' + 'A'.repeat(size), 20_000)).toBe('E22');
    expect(await c.request('qC')).toMatch(/^QC[0-9a-f]+$/);
    // zero the scratch area again
    expect(await c.request(`M${u64hex(SCRATCH)},fff0:${'00'.repeat(0xfff0)}`, 20_000)).toBe('OK');
    expect(await c.request(Buffer.concat([Buffer.from(head(n)), Buffer.alloc(n)]), 20_000)).toBe('OK');
  });
});

describe('raw packets: breakpoints and run control', () => {
  it('Z0/z0 are idempotent; m never shows 0xCC at a breakpoint; the trap is reported at address+1 (gdb rewinds)', async () => {
    const { c } = await stopped();
    const bp = bpAddr();
    const orig = hex(imageBytes(bp, 1));
    expect(orig).not.toBe('cc');
    expect(await c.request(`Z0,${u64hex(bp)},1`)).toBe('OK');
    expect(await c.request(`Z0,${u64hex(bp)},1`)).toBe('OK'); // twice: still one breakpoint
    expect(srv.sim.core.sw.size).toBe(1);
    expect(await c.request(`m${u64hex(bp)},1`)).toBe(orig);
    const text = await c.request('vCont;c', 20_000);
    const stop = parseStop(text);
    expect(stop.signal).toBe(5);
    expect(stop.thread).toBe('1');
    expect(stop.keys.has('swbreak')).toBe(false); // not negotiated
    expect(leHex(stop.regs.get(0x10)!)).toBe(bp + 1n);
    expect(await c.request(`m${u64hex(bp - 4n)},8`)).toBe(hex(imageBytes(bp - 4n, 8)));
    expect(srv.sim.machine.mem.peek(Number(BigInt.asIntN(64, bp)), 1)![0]).toBe(Number(`0x${orig}`));
    expect(await c.request(`z0,${u64hex(bp)},1`)).toBe('OK');
    expect(await c.request(`z0,${u64hex(bp)},1`)).toBe('OK'); // removing an absent one is fine
    expect(await c.request(`z0,${u64hex(bp + 1n)},1`)).toBe('OK'); // never set
    expect(srv.sim.core.sw.size).toBe(0);
    // bad breakpoints
    expect(await c.request(`Z0,${u64hex(bp)},2`)).toBe('E22'); // x86 sw breakpoint kind is 1
    expect(await c.request('Z0,800000000000,1')).toBe('E14'); // non-canonical
    expect(await c.request(`Z0,${u64hex(imageEnd())},1`)).toBe('E14'); // unmapped
    expect(await c.request('Z0,zz,1')).toBe('E22');
    expect(await c.request(`Z0,${u64hex(bp)}`)).toBe('E22');
    expect(await c.request(`Z0,ffffffffffffffff,2`)).toBe('E22'); // wraps
    expect(await c.request('Z9,0,1')).toBe(''); // unknown type: not supported
    expect(srv.sim.core.sw.size).toBe(0);
  });

  it('packets that arrive while the machine runs: m shows the original byte under a planted int3, M keeps it planted', async () => {
    const { c } = await stopped();
    const bp = sym('panic') + 4n; // never hit
    const at = Number(BigInt.asIntN(64, bp));
    const orig = hex(imageBytes(bp, 1));
    expect(await c.request(`Z0,${u64hex(bp)},1`)).toBe('OK');
    c.send('vCont;c');
    await c.expectAck();
    await c.silence(100);
    expect(srv.sim.core.state).toBe('running');
    expect(srv.sim.machine.mem.peek(at, 1)![0]).toBe(0xcc); // planted
    expect(await c.request(`m${u64hex(bp - 1n)},3`)).toBe(hex(imageBytes(bp - 1n, 3)));
    // overwrite the byte under the int3 while running: still planted, and the stop restores OUR byte
    expect(await c.request(`M${u64hex(bp)},1:90`)).toBe('OK');
    expect(srv.sim.machine.mem.peek(at, 1)![0]).toBe(0xcc);
    expect(await c.request(`m${u64hex(bp)},1`)).toBe('90');
    c.write(Buffer.from([0x03]));
    expect(parseStop((await c.reply()).text).signal).toBe(2);
    expect(await c.request(`m${u64hex(bp)},1`)).toBe('90');
    expect(srv.sim.machine.mem.peek(at, 1)![0]).toBe(0x90);
    expect(await c.request(`M${u64hex(bp)},1:${orig}`)).toBe('OK');
    expect(await c.request(`z0,${u64hex(bp)},1`)).toBe('OK');
  });

  it('with swbreak+ negotiated the stop reply says swbreak and the pc is the breakpoint address itself', async () => {
    const { c } = await stopped();
    const sup = await c.request('qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386');
    expect(sup.split(';')).toContain('swbreak+');
    expect(sup.split(';')).toContain('QStartNoAckMode+');
    expect(sup.split(';')).toContain('qXfer:features:read+');
    const bp = bpAddr();
    expect(await c.request(`Z0,${u64hex(bp)},1`)).toBe('OK');
    const stop = parseStop(await c.request('vCont;c', 20_000));
    expect(stop.thread).toBe('1');
    expect(stop.keys.has('swbreak')).toBe(true);
    expect(leHex(stop.regs.get(0x10)!)).toBe(bp);
    expect(leHex(await c.request('p10'))).toBe(bp);
    // continuing from there executes the real instruction (the int3 is lifted for the step)
    expect(await c.request(`z0,${u64hex(bp)},1`)).toBe('OK');
    const counter = u64hex(sym('counter_value'));
    const before = leHex(await c.request(`m${counter},8`));
    const st = parseStop(await c.request('vCont;s:1'));
    expect(st.thread).toBe('1');
    expect(leHex(await c.request(`m${counter},8`))).toBe(before + 1n);
  });

  it('vCont? lists c;C;s;S. vCont;s:T;c steps T one instruction; vCont;s:T steps it with every other CPU held', async () => {
    // A machine held from boot: in its first ~120 ms the crunch threads keep other CPUs busy,
    // so "the others are held" is observable (idle CPUs would not move anyway).
    const rc = await startSim({ cpus: 4, seed: 1, stopAtBoot: true, clock: { kind: 'none' } });
    const c = await RawClient.connect(rc.port);
    try {
      expect(parseStop(await c.request('?')).signal).toBe(5);
      expect(await c.request('vCont?')).toBe('vCont;c;C;s;S');
      // stop the counter task at the breakpoint (trap rip = bp + 1: rewind like gdb does)
      const bp = bpAddr();
      expect(await c.request(`Z0,${u64hex(bp)},1`)).toBe('OK');
      expect(parseStop(await c.request('vCont;c', 20_000)).thread).toBe('1');
      expect(await c.request(`z0,${u64hex(bp)},1`)).toBe('OK');
      expect(await c.request(`P10=${Buffer.from(u64hex(bp).padStart(16, '0'), 'hex').reverse().toString('hex')}`)).toBe('OK');
      const counter = u64hex(sym('counter_value'));
      const v0 = leHex(await c.request(`m${counter},8`));

      // vCont;s:1;c — step the counter task (the inc), the others run until the step is done
      const busy = rc.sim.machine.cpus.filter((x) => x.id !== rc.sim.core.entry!.cpu && !x.halted);
      expect(busy.length, 'another CPU is busy (a crunch burst)').toBeGreaterThan(0);
      const busyBefore = busy.map((x) => x.retired);
      const s1 = parseStop(await c.request('vCont;s:1;c'));
      expect(busy.some((x, i) => x.retired > busyBefore[i]!), 'the others ran').toBe(true);
      expect(s1.signal).toBe(5);
      expect(s1.thread).toBe('1');
      expect(leHex(s1.regs.get(0x10)!)).toBe(bp + 7n); // incq rip-relative: 7 bytes
      expect(leHex(await c.request(`m${counter},8`))).toBe(v0 + 1n);

      // vCont;s:1 — step it again (pop %rbp) while every other CPU stays where it is
      const me = rc.sim.core.entry!.cpu;
      const others = rc.sim.machine.cpus.filter((x) => x.id !== me);
      expect(others.some((x) => !x.halted), 'another CPU is busy').toBe(true);
      const before: Array<{ rip: string; retired: number }> = [];
      for (const x of others) {
        expect(await c.request(`Hg${(SHADOW_BASE + x.id).toString(16)}`)).toBe('OK');
        before.push({ rip: await c.request('p10'), retired: x.retired });
      }
      expect(await c.request('Hg0')).toBe('OK');
      const s2 = parseStop(await c.request('vCont;s:1'));
      expect(s2.thread).toBe('1');
      expect(leHex(s2.regs.get(0x10)!)).toBe(bp + 8n);
      for (const [i, x] of others.entries()) {
        expect(await c.request(`Hg${(SHADOW_BASE + x.id).toString(16)}`)).toBe('OK');
        expect(await c.request('p10'), `CPU${x.id} rip`).toBe(before[i]!.rip);
        expect(x.retired, `CPU${x.id} retired`).toBe(before[i]!.retired);
      }
      expect(await c.request('Hg0')).toBe('OK');
      // legacy s steps the Hg/stop thread with the others held: the ret
      const s3 = parseStop(await c.request('s'));
      expect(s3.thread).toBe('1');
      const ret = leHex(s3.regs.get(0x10)!);
      const loop = findSymbol(image(), 'counter_loop')!;
      expect(ret > BigInt.asUintN(64, loop.addr) && ret < BigInt.asUintN(64, loop.addr) + BigInt(loop.size)).toBe(true);
      // stepping a task that is on no CPU: the machine runs until the scheduler puts it back on a
      // CPU where it slept, then that CPU steps one instruction, and the stop names the task
      const off = rc.sim.kernel.tasks().find((t) => t.onCpu < 0 && t.saved.rip !== 0)!;
      const resumeAt = off.saved.rip;
      const s4 = parseStop(await c.request(`vCont;s:${off.pid.toString(16)}`));
      expect(s4.thread).toBe(off.pid.toString(16));
      expect(rc.sim.core.state).toBe('stopped');
      const nowOn = rc.sim.kernel.tasks().find((t) => t.pid === off.pid)!;
      expect(nowOn.onCpu).toBeGreaterThanOrEqual(0);
      expect(leHex(s4.regs.get(0x10)!)).toBe(BigInt.asUintN(64, BigInt(rc.sim.machine.instructionAt(resumeAt).next)));
      // malformed vCont
      for (const bad of ['vCont', 'vCont;', 'vCont;x', 'vCont;c;c', 'vCont;Czz', 'vCont;s:', 'vCont;t']) {
        expect(await c.request(bad), bad).toMatch(/^E\d\d$/);
      }
      expect(rc.sim.core.state).toBe('stopped');
    } finally {
      await c.close();
      await rc.close();
    }
  });

  it('CPUs that trap together queue and become master in turn, each held exactly at the breakpoint meanwhile', async () => {
    // Every CPU's timer tick hits smp_apic_timer_interrupt at about the same virtual time.
    const q = await startSim({ cpus: 4, seed: 2, clock: { kind: 'none' } });
    const c = await RawClient.connect(q.port);
    try {
      await c.request('?');
      expect(await c.request('qSupported:swbreak+')).toMatch(/swbreak\+/);
      const bp = sym('smp_apic_timer_interrupt') + 4n;
      const B = u64hex(bp);
      expect(await c.request(`Z0,${B},1`)).toBe('OK');
      const seen: Array<{ thread: string; cpu: number; now: number }> = [];
      let st = parseStop(await c.request('vCont;c', 20_000));
      for (let i = 0; i < 4; i++) {
        expect(st.keys.has('swbreak')).toBe(true);
        expect(leHex(st.regs.get(0x10)!), `stop ${i}: pc at the breakpoint`).toBe(bp);
        seen.push({ thread: st.thread, cpu: q.sim.core.entry!.cpu, now: q.sim.machine.now });
        // what gdb does next: step this thread off the breakpoint with it removed, re-insert, continue
        expect(await c.request(`z0,${B},1`)).toBe('OK');
        expect(parseStop(await c.request(`vCont;s:${st.thread}`)).thread).toBe(st.thread);
        expect(await c.request(`Z0,${B},1`)).toBe('OK');
        st = parseStop(await c.request('vCont;c', 20_000));
      }
      // four stops on four different CPUs, one after the other without a new tick in between
      expect(new Set(seen.map((x) => x.cpu)).size).toBe(4);
      expect(seen[3]!.now - seen[0]!.now).toBeLessThan(1_000_000);
      expect(await c.request(`z0,${B},1`)).toBe('OK');
      // and the kernel is fine afterwards: the tick goes on
      const j = u64hex(sym('jiffies'));
      const j0 = leHex(await c.request(`m${j},8`));
      c.send('vCont;c');
      await c.expectAck();
      await waitFor(() => q.sim.machine.now > seen[3]!.now + 50_000_000, 20_000, 'machine time');
      c.write(Buffer.from([0x03]));
      expect(parseStop((await c.reply()).text).signal).toBe(2);
      expect(leHex(await c.request(`m${j},8`))).toBeGreaterThan(j0);
      expect(q.sim.machine.log.filter((e) => /fault|error/.test(e.kind))).toEqual([]);
    } finally {
      await c.close();
      await q.close();
    }
  });

  it('a CPU that never answers the roundup NMI is reported as not stopped after the timeout; the stub does not hang', async () => {
    const q = await startSim({ cpus: 4, seed: 2, clock: { kind: 'none' } });
    // fault injection: the roundup NMIs to CPU2 are lost
    const m = q.sim.machine;
    const send = m.sendNmi.bind(m);
    let lose = true;
    m.sendNmi = (to: number): void => {
      if (!(lose && to === 2)) send(to);
    };
    const c = await RawClient.connect(q.port);
    try {
      const st = parseStop(await c.request('?', 30_000));
      expect(st.signal).toBe(5);
      expect(q.sim.core.notResponding).toEqual([2]);
      const cpus = textOf(await c.request(`qRcmd,${Buffer.from('cpus').toString('hex')}`));
      expect(cpus).toMatch(/^CPU2: \w+ \(missed roundup\)/m);
      expect(cpus).not.toMatch(/^CPU[013]: .*missed/m);
      expect(textOf(await c.request(`qRcmd,${Buffer.from('kgdb').toString('hex')}`))).toMatch(
        /Timed out waiting for secondary CPUs: 2 not stopped/,
      );
      expect(textOf(await c.request(`qThreadExtraInfo,${(SHADOW_BASE + 2).toString(16)}`))).toMatch(/missed roundup/);
      // it is held all the same while the debugger talks, and everything works
      expect(m.cpus[2]!.frozen).toBe(true);
      expect(await c.request('g')).toMatch(/^[0-9a-f]+$/);
      // next stop, NMIs delivered again: everyone answers
      lose = false;
      c.send('vCont;c');
      await c.expectAck();
      await c.silence(100);
      c.write(Buffer.from([0x03]));
      expect(parseStop((await c.reply()).text).signal).toBe(2);
      expect(q.sim.core.notResponding).toEqual([]);
    } finally {
      await c.close();
      await q.close();
    }
  });

  it('Ctrl-C (0x03) while running stops with T02; one sent while stopped is queued and stops the next resume', async () => {
    const { c } = await stopped();
    c.send('vCont;c');
    await c.expectAck();
    await c.silence(300); // running: no stop reply
    expect(srv.sim.core.state).toBe('running');
    c.write(Buffer.from([0x03]));
    const st = parseStop((await c.reply()).text);
    expect(st.signal).toBe(2);
    expect(srv.sim.core.state).toBe('stopped');
    // while stopped: the 0x03 gets no answer, but the next resume stops at once with SIGINT
    c.write(Buffer.from([0x03]));
    await c.silence(200);
    const t0 = srv.sim.machine.now;
    const again = parseStop(await c.request('c'));
    expect(again.signal).toBe(2);
    expect(srv.sim.machine.now - t0).toBeLessThan(2_000_000_000);
    // and only once
    c.send('vCont;c');
    await c.expectAck();
    await c.silence(300);
    c.write(Buffer.from([0x03]));
    expect(parseStop((await c.reply()).text).signal).toBe(2);
  });

  it('a second resume while running is refused; D detaches (breakpoints gone, machine runs); the next `?` stops it again', async () => {
    const { c } = await stopped();
    const bp = u64hex(sym('panic') + 4n);
    expect(await c.request(`Z0,${bp},1`)).toBe('OK');
    c.send('vCont;c');
    await c.expectAck();
    await c.silence(100);
    expect(await c.request('vCont;c')).toMatch(/^E\d\d$/);
    c.write(Buffer.from([0x03]));
    expect(parseStop((await c.reply()).text).signal).toBe(2);
    expect(await c.request('D')).toBe('OK');
    await waitFor(() => srv.server.active === null, 5000, 'the session to end');
    expect(srv.sim.core.state).toBe('running');
    expect(srv.sim.core.sw.size).toBe(0);
    expect(srv.sim.machine.cpus.some((x) => x.frozen)).toBe(false);
    const t = srv.sim.machine.now;
    await waitFor(() => srv.sim.machine.now > t + 10_000_000, 10_000, 'the machine to run');
    const { stop } = await stopped();
    expect(stop.signal).toBe(5);
    expect(srv.sim.core.state).toBe('stopped');
  });

  it('qRcmd (monitor) answers in hex; unknown monitor commands say so', async () => {
    const { c } = await stopped();
    const cpus = textOf(await c.request(`qRcmd,${Buffer.from('cpus').toString('hex')}`));
    expect(cpus.trim().split('\n')).toHaveLength(4);
    expect(cpus).toMatch(/^CPU0: (master|slave)/m);
    const tasks = textOf(await c.request(`qRcmd,${Buffer.from('tasks').toString('hex')}`));
    for (const t of DEMO_THREADS) expect(tasks).toMatch(new RegExp(`^${t.pid}\\t${t.comm.replace('/', '\\/')}\\t`, 'm'));
    expect(textOf(await c.request(`qRcmd,${Buffer.from('frobnicate').toString('hex')}`))).toMatch(/unknown monitor command/);
    expect(await c.request('qRcmd,zz')).toBe('E22');
  });
});

describe('raw packets: framing', () => {
  it('unknown packets get the empty reply and change nothing', async () => {
    const { c } = await stopped();
    const g = await c.request('g');
    for (const p of ['qFooBar', 'QFoo:1', 'vFoo', 'vMustReplyEmpty', 'j', '!', 'b', 'Z9,0,1', 'vFile:open:', 'qXfer:libraries:read::0,100',
      'qL1200000000000000000', 'bc', 'A', '_x', 'qTStatus', 'vKill;1']) {
      expect(await c.request(p), p).toBe('');
    }
    expect(await c.request('g')).toBe(g);
    expect(srv.sim.core.state).toBe('stopped');
  });

  it('a bad checksum gets `-` and the retransmission is accepted; our `-` makes the stub resend its reply', async () => {
    const { c } = await stopped();
    c.write(frame('qC', 0));
    expect((await c.next()).kind).toBe('nak');
    const qc = await c.request('qC');
    expect(qc).toMatch(/^QC[0-9a-f]+$/);
    // bad checksum digits are a bad checksum too
    c.write('$qC#zz');
    expect((await c.next()).kind).toBe('nak');
    // NAK the reply: the very same packet comes again
    c.send('qC');
    await c.expectAck();
    const first = await c.next();
    expect(first.kind).toBe('packet');
    c.write('-');
    const second = await c.next();
    expect(second.kind === 'packet' && first.kind === 'packet' && second.raw.equals(first.raw)).toBe(true);
    c.write('+');
    await c.silence(100);
  });

  it('any chunking: one byte per write, ack and packet together, several packets in one write, junk between packets', async () => {
    const { c } = await stopped();
    for (const b of frame('qC')) {
      c.write(Buffer.from([b]));
      await new Promise((r) => setTimeout(r, 2));
    }
    await c.expectAck();
    const qc = (await c.reply()).text;
    c.write(Buffer.concat([Buffer.from('+'), frame('qC')]));
    await c.expectAck();
    expect((await c.reply()).text).toBe(qc);
    c.write(Buffer.concat([frame('qC'), frame('p10'), Buffer.from('garbage\r\n'), frame('qC')]));
    await c.expectAck();
    expect((await c.reply()).text).toBe(qc);
    await c.expectAck();
    expect((await c.reply()).text).toMatch(/^[0-9a-f]{16}$/);
    await c.expectAck();
    expect((await c.reply()).text).toBe(qc);
  });

  it('QStartNoAckMode: OK still acked, then nobody acks; replies are unchanged', async () => {
    const { c } = await stopped();
    expect(await c.request('QStartNoAckMode')).toBe('OK');
    c.noAck = true;
    c.send('qC');
    const e = await c.next();
    expect(e.kind).toBe('packet'); // no '+' first
    expect(await c.request('p10')).toMatch(/^[0-9a-f]{16}$/);
    await c.silence(200); // and no stray ack for ours
  });

  it('a client streaming garbage (no `$`, or an endless packet) gets nothing, does not grow memory, and the stub resyncs', async () => {
    const { c } = await stopped();
    const junk = Buffer.alloc(1 << 20, 0x61);
    c.write(junk);
    await c.silence(200);
    // an endless packet (far beyond PacketSize) … then a new '$' starts over
    c.write(Buffer.concat([Buffer.from('$'), Buffer.alloc(1 << 20, 0x62)]));
    c.send('qC');
    // the cut frame is dropped; qC is answered
    await c.expectAck();
    expect((await c.reply()).text).toMatch(/^QC/);
  });
});

describe('raw packets: the Linux kgdb wire profile (startServer/serveTcp with wire kgdb)', () => {
  let k: SimServer;
  beforeAll(async () => {
    k = await startSim({ cpus: 4, seed: 5, wire: 'kgdb' });
  });
  afterAll(async () => {
    await k?.close();
  });

  it('empty qSupported, `?` → S05, errors as E + two decimal digits, Linux thread ids and 156-byte g', async () => {
    const c = await RawClient.connect(k.port);
    try {
      expect(await c.request('qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386')).toBe('');
      expect(await c.request('?')).toBe('S05');
      expect(await c.request('QStartNoAckMode')).toBe('');
      expect(await c.request('vCont?')).toBe('');
      expect(await c.request('vCont;c')).toBe('');
      expect(await c.request('qXfer:features:read:target.xml:0,100')).toBe('');
      // errors: E14 EFAULT, E22 EINVAL, in decimal
      expect(await c.request(`m${u64hex(imageEnd())},4`)).toBe('E14');
      expect(await c.request('mzz,4')).toBe('E22');
      expect(await c.request('p18')).toBe('E22'); // register 24: beyond DBG_MAX_REG_NUM
      // g: 17 × 8 + 5 × 4 bytes; p reaches fs/gs too, and orig_ax (57) can be written (ignored)
      const g = await c.request('g');
      expect(g.length).toBe(2 * 156);
      expect(await c.request('p10')).toBe(g.slice(16 * 16, 17 * 16));
      expect(await c.request('p17')).toMatch(/^[0-9a-f]{8}$/);
      expect(await c.request('p39')).toBe('ffffffffffffffff');
      expect(await c.request('P39=ffffffffffffffff')).toBe('OK');
      expect(await c.request('G' + g)).toBe('OK');
      expect(await c.request('G' + g + '00000000')).toBe('E22');
      // threads: every CPU's shadow (-cpu-2, 32-bit, leading zero bytes dropped), then the tasks, ≤17 per reply, empty end
      const list = await c.request('qfThreadInfo');
      expect(list).toBe('m' + ['fffffffe', 'fffffffd', 'fffffffc', 'fffffffb', ...DEMO_THREADS.map((t) => t.pid.toString(16).padStart(2, '0'))].join(','));
      expect(await c.request('qsThreadInfo')).toBe('');
      expect(await c.request('qC')).toMatch(/^QC([0-9a-f]{2})+$/);
      expect(textOf(await c.request('qThreadExtraInfo,fffffffe'))).toBe('shadowCPU0');
      expect(await c.request('Hg-2')).toBe('OK'); // how gdb writes 0xfffffffe back
      expect(await c.request('g')).toMatch(/^[0-9a-f]{312}$/);
      // a breakpoint stop: T05thread:<id>; and nothing else
      expect(await c.request('Hg0')).toBe('OK');
      const bp = u64hex(bpAddr());
      expect(await c.request(`Z0,${bp},1`)).toBe('OK');
      expect(await c.request('c', 20_000)).toBe('T05thread:01;');
      expect(await c.request(`z0,${bp},1`)).toBe('OK');
      // `?` (a debugger (re)connecting) forgets breakpoints left behind, as gdb_cmd_status() does
      expect(await c.request(`Z0,${u64hex(sym('panic') + 4n)},1`)).toBe('OK');
      expect(k.sim.core.sw.size).toBe(1);
      expect(await c.request('?')).toBe('S05');
      expect(k.sim.core.sw.size).toBe(0);
      // packets longer than BUFMAX are dropped without a word; the next one is served
      c.write(frame('m' + '0'.repeat(1100)));
      await c.silence(300);
      expect(await c.request('qC')).toMatch(/^QC/);
      expect(await c.request('D')).toBe('OK');
    } finally {
      await c.close();
    }
  });
});
