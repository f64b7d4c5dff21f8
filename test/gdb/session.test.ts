// Issue 3, proof: unmodified gdb 13 (batch mode) debugs the simulated 4-CPU
// kernel over a real TCP socket, the way it debugs a real kernel under kgdb.
// One in-process server for the whole file; gdb sessions run one after the
// other, each connecting, doing its work and detaching.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_THREADS } from '../../src/kernel/demo.js';
import { SHADOW_BASE } from '../../src/kgdb/threads.js';
import {
  assertCleanWire, mark, monitor, parseInfoThreads, PROTOCOL_TROUBLE, parseTasks, parseThreadApply, received, runGdb, section, sent, type SimServer,
  startSim, sym, values,
} from './harness.js';

const CPUS = 4;
let srv: SimServer;

beforeAll(async () => {
  srv = await startSim({ cpus: CPUS, seed: 1 });
});
afterAll(async () => {
  await srv?.close();
});

/** `x/Ni $pc` lines → [{ addr, text }] (the first one is the `=>` line). */
function insns(text: string): Array<{ addr: bigint; sym: string; text: string }> {
  return [...text.matchAll(/^(?:=>)?\s+0x([0-9a-f]+) <([^>]+)>:\s+(.*)$/gm)].map((m) => ({
    addr: BigInt('0x' + m[1]!),
    sym: m[2]!,
    text: m[3]!.trim(),
  }));
}

function hexValue(v: string): bigint {
  const m = /0x([0-9a-f]+)/.exec(v);
  if (!m) throw new Error(`no hex value in ${v}`);
  return BigInt('0x' + m[1]!);
}

/** `bt` → frame function names, innermost first. */
function frames(bt: string): Array<{ fn: string; pc: bigint }> {
  return [...bt.matchAll(/^#\d+\s+(?:0x([0-9a-f]+) in )?(\S+) \(/gm)].map((m) => ({
    fn: m[2]!,
    pc: m[1] ? BigInt('0x' + m[1]) : 0n,
  }));
}

describe('real gdb over TCP (in-process server, 4 CPUs)', () => {
  it('connects with the ELF loaded; info threads lists every task and the 4 CPU shadow threads', async () => {
    const run = await runGdb({
      remote: srv.remote,
      commands: [mark('threads'), 'info threads', mark('tasks'), monitor('tasks'), mark('end'), 'detach'],
    });
    assertCleanWire(run);
    const rows = parseInfoThreads(section(run.stdout, 'threads'));
    const tasks = parseTasks(section(run.stdout, 'tasks'));
    // monitor tasks names exactly the demo threads the kernel starts
    expect([...tasks.keys()].sort((a, b) => a - b)).toEqual(DEMO_THREADS.map((t) => t.pid));
    for (const t of DEMO_THREADS) expect(tasks.get(t.pid)?.name).toBe(t.comm);
    // … and gdb lists each as a thread whose id is the pid, with name, pid, state and CPU
    for (const [pid, t] of tasks) {
      const row = rows.find((r) => r.tid === pid);
      expect(row, `thread for pid ${pid}`).toBeDefined();
      expect(row!.extra).toContain(`${t.name} pid ${pid}`);
      expect(row!.extra).toMatch(/ (running|runnable|sleeping) (on|last) CPU\d+$/);
    }
    // one shadow thread per CPU, "shadowCPU<n>"
    for (let c = 0; c < CPUS; c++) {
      const row = rows.find((r) => r.tid === SHADOW_BASE + c);
      expect(row, `shadow thread of CPU${c}`).toBeDefined();
      expect(row!.extra).toMatch(new RegExp(`^shadowCPU${c}\\b`));
    }
    expect(rows).toHaveLength(CPUS + tasks.size);
    // symbols resolved from the ELF: every frame names a kernel function
    for (const r of rows) expect(r.frame).toMatch(/ in [a-z_][a-z_0-9]* \(\)$/);
    // the connection negotiated what we advertise, and fetched target.xml
    expect(run.stderr).toMatch(/Packet received: PacketSize=[0-9a-f]+;QStartNoAckMode\+/);
    expect(sent(run).some((p) => p.startsWith('qXfer:features:read:target.xml:0,'))).toBe(true);
    expect(run.stdout).toContain('[Inferior 1 (Remote target) detached]');
  });

  it('break counter_inc + continue stops there; bt shows counter_loop and counter_thread; 3× stepi; finish', async () => {
    const run = await runGdb({
      remote: srv.remote,
      commands: [
        'break counter_inc',
        'continue',
        mark('bt'),
        'bt',
        mark('pc0'),
        'p/x $pc',
        'x/2i $pc',
        'p *(unsigned long *)&counter_value',
        'stepi',
        mark('s1'),
        'p/x $pc',
        'x/2i $pc',
        'p *(unsigned long *)&counter_value',
        'stepi',
        mark('s2'),
        'p/x $pc',
        'x/2i $pc',
        'stepi',
        mark('s3'),
        'p/x $pc',
        'x/i $pc',
        'bt 1',
        // back into counter_inc, then finish out of it
        'continue',
        mark('again'),
        'bt 2',
        'finish',
        mark('finish'),
        'p/x $pc',
        'bt 1',
        mark('end'),
        'detach',
      ],
    });
    assertCleanWire(run);
    const out = run.stdout;
    // stopped at the breakpoint in counter_inc, on the counter task
    expect(out).toMatch(/Thread \d+ hit Breakpoint 1, 0x[0-9a-f]+ in counter_inc \(\)/);
    const bt = frames(section(out, 'bt'));
    expect(bt.map((f) => f.fn).slice(0, 3)).toEqual(['counter_inc', 'counter_loop', 'counter_thread']);
    const retAddr = bt[1]!.pc;

    // stepi 1: the instruction shown at the stop (the inc) ran; pc moved to the next one
    const s0 = section(out, 'pc0');
    const pc0 = hexValue(values(s0)[0]!);
    const i0 = insns(s0);
    expect(i0[0]!.addr).toBe(pc0);
    expect(i0[0]!.sym).toMatch(/^counter_inc\+\d+$/);
    expect(i0[0]!.text).toMatch(/^incq\s+.*<counter_value>/);
    const before = BigInt(values(s0)[1]!);

    const s1 = section(out, 's1');
    const pc1 = hexValue(values(s1)[0]!);
    expect(pc1).not.toBe(pc0);
    expect(pc1).toBe(i0[1]!.addr); // the next instruction x/2i showed
    const i1 = insns(s1);
    expect(i1[0]!.addr).toBe(pc1);
    expect(i1[0]!.text).toMatch(/^pop\s+%rbp/);
    expect(BigInt(values(s1)[1]!)).toBe(before + 1n); // the inc really executed, once

    const s2 = section(out, 's2');
    const pc2 = hexValue(values(s2)[0]!);
    expect(pc2).toBe(i1[1]!.addr);
    const i2 = insns(s2);
    expect(i2[0]!.text).toMatch(/^ret/);

    // stepi 3 executed the ret: pc is the return address in counter_loop
    const s3 = section(out, 's3');
    const pc3 = hexValue(values(s3)[0]!);
    expect(pc3).toBe(retAddr);
    expect(insns(s3)[0]!.sym).toMatch(/^counter_loop\+\d+$/);
    expect(frames(s3)[0]!.fn).toBe('counter_loop');

    // finish from counter_inc returns to counter_loop, right after the call
    expect(frames(section(out, 'again'))[0]!.fn).toBe('counter_inc');
    const fin = section(out, 'finish');
    expect(hexValue(values(fin)[0]!)).toBe(retAddr);
    expect(frames(fin)[0]!.fn).toBe('counter_loop');
    // finish = a breakpoint at the return address, then continue
    expect(sent(run)).toContain(`Z0,${retAddr.toString(16)},1`);

    // gdb stepped with vCont (step this thread, others continue) and got T05 replies
    expect(sent(run).some((p) => /^vCont;s:[0-9a-f]+;c$/.test(p))).toBe(true);
    expect(received(run).filter((p) => /^T05thread:1;/.test(p)).length).toBeGreaterThanOrEqual(5);
    // at a stop, memory never shows the int3 at the breakpoint
    expect(out).not.toMatch(/int3/);
  });

  it('set var counter_value = 1000, continue: the kernel increments the value gdb wrote', async () => {
    const run = await runGdb({
      remote: srv.remote,
      commands: [
        'break counter_inc',
        'continue',
        // (the ELF has no debug info: gdb needs the type spelled out)
        'set var *(unsigned long *)&counter_value = 1000',
        mark('set'),
        'p (unsigned long)counter_value',
        'continue',
        mark('c1'),
        'p (unsigned long)counter_value',
        'continue',
        mark('c2'),
        'p (unsigned long)counter_value',
        mark('end'),
        'delete',
        'detach',
      ],
    });
    assertCleanWire(run);
    expect(values(section(run.stdout, 'set'))[0]).toBe('1000');
    // Stopped before the inc: gdb steps over the breakpoint (inc: 1001), the next call stops again.
    expect(values(section(run.stdout, 'c1'))[0]).toBe('1001');
    expect(values(section(run.stdout, 'c2'))[0]).toBe('1002');
    // the write went out as memory, not lost in a cache
    expect(sent(run).some((p) => /^[MX]ffffffff[0-9a-f]+,8:/.test(p))).toBe(true);
  });

  it('thread N + info registers: tasks on different CPUs have different registers; a CPU shadow shows its task', async () => {
    // A machine held from boot: in its first ~120 ms both crunch threads burn CPUs while
    // the counter counts. The very first counter_inc calls come before the scheduler has
    // started the other threads, so stop at a later one: then several tasks are on CPUs.
    const boot = await startSim({ cpus: CPUS, seed: 1, stopAtBoot: true, clock: { kind: 'none' } });
    const run = await runGdb({
      remote: boot.remote,
      commands: [
        'break counter_inc',
        'ignore 1 10',
        'continue',
        'delete',
        mark('regs'),
        'thread apply all info registers rip rsp rbp',
        mark('threads'),
        'info threads',
        mark('end'),
        'detach',
      ],
    }).finally(() => boot.close());
    assertCleanWire(run);
    const per = parseThreadApply(section(run.stdout, 'regs'));
    const threads = parseInfoThreads(section(run.stdout, 'threads'));
    expect(per.size).toBe(threads.length);
    const reg = (tid: number, name: string): bigint => {
      const body = per.get(tid)?.body ?? '';
      const m = new RegExp(`^${name}\\s+0x([0-9a-f]+)`, 'm').exec(body);
      if (!m) throw new Error(`no ${name} for thread ${tid} in:\n${body}`);
      return BigInt('0x' + m[1]!);
    };
    const onCpu = threads
      .map((t) => ({ t, m: /running on CPU(\d+)$/.exec(t.extra) }))
      .filter((x) => x.m !== null)
      .map((x) => ({ tid: x.t.tid, cpu: Number(x.m![1]) }));
    // the counter task stopped on a CPU; at least one CPU hog is on another
    expect(onCpu.length).toBeGreaterThanOrEqual(2);
    expect(new Set(onCpu.map((x) => x.cpu)).size).toBe(onCpu.length);
    for (let i = 0; i < onCpu.length; i++) {
      for (let j = i + 1; j < onCpu.length; j++) {
        const a = onCpu[i]!;
        const b = onCpu[j]!;
        expect(reg(a.tid, 'rsp'), `rsp of pid ${a.tid} vs ${b.tid}`).not.toBe(reg(b.tid, 'rsp'));
      }
      // a task on CPU n reports CPU n's live registers: the same as CPU n's shadow thread
      const x = onCpu[i]!;
      for (const r of ['rip', 'rsp', 'rbp']) expect(reg(x.tid, r)).toBe(reg(SHADOW_BASE + x.cpu, r));
    }
    // the stopped thread (counter) is in counter_inc
    const counter = threads.find((t) => t.tid === 1)!;
    expect(counter.current).toBe(true);
    expect(reg(1, 'rip') - sym('counter_inc')).toBeLessThan(16n);
    // a sleeping task shows the frame __switch_to saved: rip inside schedule()
    const sleeping = threads.filter((t) => /sleeping|runnable/.test(t.extra));
    for (const s of sleeping) expect(s.frame).toMatch(/ in (schedule|ret_from_fork) \(\)$/);
  });

  it('stepi on a task that is on no CPU runs until the scheduler picks it, then steps one instruction', async () => {
    const pick =
      'python import re; rows = gdb.execute("info threads", to_string=True); ' +
      'n = [m.group(1) for m in re.finditer(r"^[* ] +(\\d+) +Thread \\d+ \\([^)]* (?:sleeping|runnable) last CPU", rows, re.M)][0]; ' +
      'gdb.execute("thread " + n)';
    const run = await runGdb({
      remote: srv.remote,
      commands: [
        'break counter_inc',
        'continue',
        'delete',
        pick,
        mark('before'),
        'p/x $pc',
        'x/2i $pc',
        'stepi',
        mark('after'),
        'p/x $pc',
        'info threads',
        // the reproduction of gdb looping on a refused step: until on a sleeping task
        pick,
        'until',
        mark('until'),
        'p/x $pc',
        mark('end'),
        'thread 1',
        'break counter_inc',
        'continue',
        'detach',
      ],
    });
    assertCleanWire(run);
    expect(run.all).not.toMatch(/Remote failure reply/);
    expect(sent(run).some((p) => /^vCont;s:[0-9a-f]+;c$/.test(p))).toBe(true);
    const before = values(section(run.stdout, 'before'))[0];
    const after = values(section(run.stdout, 'after'))[0];
    // one instruction executed by that task: $pc is the next instruction after where it slept
    const next = /=> 0x[0-9a-f]+ <[^>]+>:[^\n]*\n\s+(0x[0-9a-f]+) </.exec(section(run.stdout, 'before'));
    expect(next, section(run.stdout, 'before')).not.toBeNull();
    expect(BigInt(after)).not.toBe(BigInt(before));
    expect(BigInt(after)).toBe(BigInt(next![1]));
    // still usable afterwards: until returns and the next breakpoint hits
    expect(values(section(run.stdout, 'until')).length).toBeGreaterThan(0);
    expect(section(run.stdout, 'end'), run.stdout).toMatch(/hit Breakpoint 2, 0x[0-9a-f]+ in counter_inc \(\)/);
  });

  it('the log is clean: no NAK, no retransmission, no "g packet too long", acks only until no-ack mode', async () => {
    const run = await runGdb({
      remote: srv.remote,
      commands: ['info threads', 'info registers', 'x/64xb $sp', 'break counter_inc', 'continue', 'stepi', 'stepi', 'next', 'detach'],
    });
    assertCleanWire(run);
    expect(run.all).not.toMatch(/too long/);
    const noAck = run.stderr.indexOf('QStartNoAckMode');
    expect(noAck).toBeGreaterThan(0);
    // after the switch gdb acks nothing (and the stub sends no acks gdb would see as junk)
    const after = run.stderr.slice(run.stderr.indexOf('Packet received: OK', noAck) + 1);
    expect(after).not.toMatch(/Received Ack|Sending Ack|Packet instead of Ack/);
  });
});
