// The kernel running on the machine: boot, the tick, scheduling and
// migration, spin locks, printk, panic, and frame-pointer chains a debugger
// can unwind at any instruction boundary.

import { describe, expect, it } from 'vitest';
import { buildKernelImage } from '../../src/kernel/image.js';
import {
  HARDIRQ_OFFSET, HZ, INACTIVE_FRAME, LOG_BUF_LEN, PCPU, PERCPU_STRIDE, PT_REGS, TASK, TASK_COMM_LEN, TASK_NEW,
  TASK_RUNNING, TASK_STRUCT_SIZE, TASK_UNINTERRUPTIBLE, TASK_WAKING,
} from '../../src/kernel/layout.js';
import { formatAddr, symbolAddr, symbolize } from '../../src/kernel/link.js';
import { DEMO_THREADS } from '../../src/kernel/demo.js';
import { IDT_GATES } from '../../src/kernel/entry.js';
import { canon, createMachine } from '../../src/system.js';
import type { Machine } from '../../src/target/machine.js';

const SECOND = 1_000_000_000;
const ENTRY_STUBS = new Set(IDT_GATES.map(([, stub]) => stub));
const image = buildKernelImage();
const sym = (n: string): number => canon(symbolAddr(image, n));

class Kernel {
  constructor(readonly m: Machine) {}
  u64(a: number): number {
    const v = this.m.mem.peek64(a);
    if (v === undefined) throw new Error(`unmapped ${a.toString(16)}`);
    return Number(BigInt.asIntN(64, v));
  }
  u32(a: number): number {
    const b = this.m.mem.peek(a, 4);
    if (b === undefined) throw new Error(`unmapped ${a.toString(16)}`);
    return new DataView(b.buffer, b.byteOffset).getUint32(0, true);
  }
  s32(a: number): number {
    return this.u32(a) | 0;
  }
  pcpu(cpu: number, off: number): number {
    return sym('per_cpu_area') + cpu * PERCPU_STRIDE + off;
  }
  task(i: number): number {
    return sym('task_table') + i * TASK_STRUCT_SIZE;
  }
  get nrTasks(): number {
    return this.u32(sym('nr_tasks'));
  }
  comm(t: number): string {
    const b = this.m.mem.peek(t + TASK.comm, TASK_COMM_LEN)!;
    return Buffer.from(b.subarray(0, b.indexOf(0))).toString('latin1');
  }
  dmesg(): string {
    const end = this.u64(sym('log_end'));
    const buf = this.m.mem.peek(sym('log_buf'), LOG_BUF_LEN)!;
    const out: number[] = [];
    for (let i = Math.max(0, end - LOG_BUF_LEN); i < end; i++) out.push(buf[i % LOG_BUF_LEN]);
    return Buffer.from(out).toString('latin1');
  }
  current(cpu: number): number {
    return this.u64(this.pcpu(cpu, PCPU.current_task));
  }
  /**
   * Follow the frame-pointer chain: names of the functions, innermost first.
   * Like gdb, a return address is looked up at ret-1 (the call instruction).
   * One refinement gdb lacks for outer frames: when an entry stub's frame
   * record says the interrupted rip is a `ret` (the function had already
   * popped its frame), the interrupted function's caller is read from the
   * interrupted rsp in pt_regs instead of being skipped.
   */
  backtrace(rip: number, rbp: number): string[] {
    const name = (a: number): string => {
      const s = symbolize(image, BigInt.asUintN(64, BigInt(a)));
      if (!s || s.symbol.kind !== 'func') throw new Error(`return address ${a.toString(16)} is not in a function`);
      return s.name;
    };
    const frames = [name(rip)];
    for (let depth = 0; rbp !== 0; depth++) {
      if (depth > 40) throw new Error('frame chain too long');
      const ret = this.u64(rbp + 8);
      if (ret === 0) break;
      const fromStub = ENTRY_STUBS.has(frames[frames.length - 1]);
      frames.push(name(fromStub ? ret : ret - 1));
      if (fromStub && this.m.mem.peek(ret, 1)?.[0] === 0xc3) {
        const sp = this.u64(rbp + (PT_REGS.sp - PT_REGS.bp));
        frames.push(name(this.u64(sp) - 1));
      }
      rbp = this.u64(rbp);
    }
    return frames;
  }
  /** Backtrace of a task that is not on a CPU, from its saved switch frame. */
  sleepingBacktrace(t: number): string[] {
    const sp = this.u64(t + TASK.thread_sp);
    return this.backtrace(this.u64(sp + INACTIVE_FRAME.ret_addr), this.u64(sp + INACTIVE_FRAME.bp));
  }
}

function boot(cpus: number, seed = 1): Kernel {
  return new Kernel(createMachine(image, { cpus, seed }));
}

/** Scheduler invariants; only meaningful when no run-queue lock is held. Returns false if it could not check. */
function checkRunQueues(k: Kernel, cpus: number): boolean {
  for (let c = 0; c < cpus; c++) if (k.u32(k.pcpu(c, PCPU.rq_lock)) !== 0) return false;
  const where = new Map<number, string[]>();
  const note = (t: number, w: string): void => {
    where.set(t, [...(where.get(t) ?? []), w]);
  };
  let queued = 0;
  for (let c = 0; c < cpus; c++) {
    note(k.current(c), `current@${c}`);
    const head = k.pcpu(c, PCPU.rq_queue);
    let n = 0;
    for (let e = k.u64(head); e !== head; e = k.u64(e)) {
      expect(n++).toBeLessThan(64);
      const t = e - TASK.run_list;
      note(t, `rq@${c}`);
      expect(k.u32(t + TASK.on_rq)).toBe(1);
      expect(k.u32(t + TASK.cpu)).toBe(c);
      expect(k.u64(t + TASK.state)).toBe(TASK_RUNNING);
    }
    expect(k.u32(k.pcpu(c, PCPU.rq_nr_running))).toBe(n);
    queued += n;
  }
  expect(k.u32(sym('nr_running'))).toBe(queued);
  for (let i = 0; i < k.nrTasks; i++) {
    const t = k.task(i);
    const w = where.get(t) ?? [];
    const state = k.u64(t + TASK.state);
    if (w.length === 0) expect([TASK_UNINTERRUPTIBLE, TASK_NEW, TASK_WAKING], k.comm(t)).toContain(state);
    else expect(w.length, `${k.comm(t)} is ${w.join(' and ')}`).toBe(1);
  }
  return true;
}

describe('the kernel on 4 CPUs for 1 virtual second', () => {
  const cpus = 4;
  const k = boot(cpus);
  k.m.run(SECOND / 2);
  const half = k.u64(sym('counter_value'));
  k.m.run(SECOND);

  it('runs without faults', () => {
    expect(k.m.log).toEqual([]);
    for (const c of k.m.cpus) expect(c.dead).toBe(false);
    expect(k.u32(sym('nr_online_cpus'))).toBe(cpus);
  });

  it('ticks HZ times a second on every CPU, and jiffies follows', () => {
    for (let c = 0; c < cpus; c++) {
      const ticks = k.u64(k.pcpu(c, PCPU.apic_timer_irqs));
      expect(Math.abs(ticks - HZ), `CPU${c} ticks ${ticks}`).toBeLessThanOrEqual(1);
    }
    expect(Math.abs(k.u64(sym('jiffies')) - HZ)).toBeLessThanOrEqual(1);
  });

  it('runs every kernel thread, and counter_value keeps growing', () => {
    expect(k.nrTasks).toBe(DEMO_THREADS.length);
    DEMO_THREADS.forEach((d, i) => {
      const t = k.task(i);
      expect(k.u32(t + TASK.pid)).toBe(d.pid);
      expect(k.comm(t)).toBe(d.comm);
      expect(k.u64(t + TASK.pcount), d.comm).toBeGreaterThan(0);
    });
    expect(half).toBeGreaterThan(0);
    expect(k.u64(sym('counter_value'))).toBeGreaterThan(half);
    expect(k.u64(sym('demo_shared'))).toBeGreaterThan(0);
  });

  it('switches contexts, migrates tasks between CPUs and keeps the run queues consistent', () => {
    let switches = 0, migrations = 0;
    for (let c = 0; c < cpus; c++) switches += k.u64(k.pcpu(c, PCPU.nr_switches));
    for (let i = 0; i < k.nrTasks; i++) migrations += k.u32(k.task(i) + TASK.nr_migrations);
    expect(switches).toBeGreaterThan(100);
    expect(migrations).toBeGreaterThan(0);
    expect(checkRunQueues(k, cpus)).toBe(true);
  });

  it('logs boot messages and the workers\' reports with printk', () => {
    const log = k.dmesg();
    expect(log).toContain('Linux version 2.6.33-kgdb-sim (kgdb-sim) SMP, 4 CPUs\n');
    for (let c = 0; c < cpus; c++) expect(log).toContain(`CPU${c}: online\n`);
    expect(log).toMatch(/worker\/0: 128 rounds, demo_shared \d+\n/);
    expect(log).toMatch(/worker\/1: 128 rounds, demo_shared \d+\n/);
    expect(log).toMatch(/crunch\/0: [0-9a-f]+\n/);
    expect(k.u32(sym('log_buf_len'))).toBe(LOG_BUF_LEN);
  });

  it('leaves sleeping tasks with a switch frame gdb can unwind to ret_from_fork', () => {
    for (let i = 0; i < k.nrTasks; i++) {
      const t = k.task(i);
      if ([0, 1, 2, 3].some((c) => k.current(c) === t)) continue;
      const bt = k.sleepingBacktrace(t);
      expect(bt[0], k.comm(t)).toBe('schedule');
      expect(bt[bt.length - 1], `${k.comm(t)}: ${bt.join(' <- ')}`).toBe('ret_from_fork');
      if (k.comm(t) === 'counter' && k.u64(t + TASK.state) === TASK_UNINTERRUPTIBLE) {
        expect(bt).toEqual(['schedule', 'schedule_timeout', 'msleep', 'counter_loop', 'counter_thread', 'ret_from_fork']);
      }
    }
  });
});

describe('frame pointers and scheduler state at arbitrary stops', () => {
  it('unwinds every CPU to its outermost frame at hundreds of stop points, through interrupt frames', () => {
    const cpus = 2; // five threads on two CPUs: plenty of preemption by the tick
    const k = boot(cpus, 7);
    const seen = new Set<string>();
    let checked = 0;
    for (let t = 1_370_000; t < SECOND / 4; t += 1_370_000) {
      k.m.run(t);
      for (const c of k.m.cpus) {
        const bt = k.backtrace(c.rip, c.addrOf(5));
        const outer = bt[bt.length - 1];
        expect(['startup_64', 'ret_from_fork'], bt.join(' <- ')).toContain(outer);
        const pc = k.s32(k.pcpu(c.id, PCPU.preempt_count));
        expect(pc >= 0 && pc <= HARDIRQ_OFFSET + 3, `preempt_count ${pc.toString(16)}`).toBe(true);
      }
      if (checkRunQueues(k, cpus)) checked++;
      // tasks preempted by the tick: unwind from schedule() through the
      // timer's pt_regs frame into the interrupted thread
      for (let i = 0; i < k.nrTasks; i++) {
        const task = k.task(i);
        if (k.m.cpus.some((c) => k.current(c.id) === task)) continue;
        const bt = k.sleepingBacktrace(task);
        expect(bt[bt.length - 1], bt.join(' <- ')).toBe('ret_from_fork');
        const p = bt.indexOf('preempt_schedule_irq');
        if (p >= 0) {
          expect(['timer_interrupt', 'reschedule_interrupt']).toContain(bt[p + 1]);
          seen.add(bt.slice(p + 1).join(' <- '));
        }
      }
    }
    expect(k.m.log).toEqual([]);
    expect(checked).toBeGreaterThan(50);
    expect([...seen].some((s) => /^timer_interrupt <- crunch_thread <- ret_from_fork$/.test(s)), [...seen].join('\n')).toBe(true);
  });
});

describe('other machine sizes and seeds', () => {
  it('time-slices all threads on a single CPU', () => {
    const k = boot(1);
    k.m.run(SECOND / 2);
    expect(k.m.log).toEqual([]);
    for (let i = 0; i < k.nrTasks; i++) expect(k.u64(k.task(i) + TASK.pcount), k.comm(k.task(i))).toBeGreaterThan(0);
    expect(Math.abs(k.u64(k.pcpu(0, PCPU.apic_timer_irqs)) - HZ / 2)).toBeLessThanOrEqual(1);
    expect(k.u64(sym('counter_value'))).toBeGreaterThan(0);
    expect(checkRunQueues(k, 1)).toBe(true);
  });

  it('boots 256 CPUs', () => {
    const k = boot(256);
    k.m.run(SECOND / 20);
    expect(k.m.log).toEqual([]);
    expect(k.u32(sym('nr_online_cpus'))).toBe(256);
    for (const c of [0, 1, 128, 255]) expect(k.u64(k.pcpu(c, PCPU.apic_timer_irqs))).toBeGreaterThanOrEqual(4);
    expect(k.u64(sym('counter_value'))).toBeGreaterThan(0);
  });

  it('is a function of the seed', () => {
    const run = (seed: number): [number, number] => {
      const k = boot(4, seed);
      k.m.run(SECOND / 10);
      return [k.m.traceHash, k.u64(sym('demo_shared'))];
    };
    expect(run(3)).toEqual(run(3));
    expect(run(3)[0]).not.toBe(run(4)[0]);
  });
});

describe('panic', () => {
  const crash = (code: number[]): Kernel => {
    const k = boot(2);
    k.m.run(SECOND / 100);
    k.m.mem.poke(sym('counter_inc') + 4, Uint8Array.from(code));
    k.m.run(SECOND / 10);
    return k;
  };

  it('an invalid opcode panics with the faulting address and halts the CPU', () => {
    const k = crash([0x0f, 0x0b]); // ud2
    const at = formatAddr(image, symbolAddr(image, 'counter_inc') + 4n);
    expect(at).toBe('counter_inc+0x4');
    const ip = (BigInt(sym('counter_inc')) + 4n) & 0xffffffffffffffffn;
    expect(k.dmesg()).toContain(`Kernel panic - not syncing: invalid opcode at ip ${BigInt.asUintN(64, ip).toString(16)}\n`);
    const cpu = k.s32(sym('panic_cpu'));
    expect(cpu).toBeGreaterThanOrEqual(0);
    const c = k.m.cpus[cpu];
    expect(c.halted).toBe(true);
    expect(k.backtrace(c.rip, c.addrOf(5))).toEqual([
      'panic', 'do_invalid_op', 'invalid_op', 'counter_inc', 'counter_loop', 'counter_thread', 'ret_from_fork',
    ]);
  });

  it('a page fault goes through the error-code entry stub and panics with the address', () => {
    const k = crash([0x48, 0x8b, 0x04, 0x25, 0x08, 0x00, 0x00, 0x00]); // mov rax, [8]
    expect(k.dmesg()).toMatch(/Kernel panic - not syncing: BUG: unable to handle page fault for address 8, ip ffffffff[0-9a-f]+, error 0\n/);
    const c = k.m.cpus[k.s32(sym('panic_cpu'))];
    expect(k.backtrace(c.rip, c.addrOf(5))).toEqual([
      'panic', 'do_page_fault', 'page_fault', 'counter_inc', 'counter_loop', 'counter_thread', 'ret_from_fork',
    ]);
  });
});
