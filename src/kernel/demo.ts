// The demo workload: kernel threads that give the debugger something to
// look at.
//
// - counter_thread → counter_loop → counter_inc: increments counter_value,
//   and sleeps with msleep() every COUNTER_BATCH increments. The classic
//   target for `break counter_inc`, `watch counter_value`, `finish`.
// - worker/0, worker/1 (worker_thread): take demo_lock (a spin lock) in a
//   loop, bump demo_shared under it, do some work outside it, and now and
//   then printk and msleep. They contend for the lock across CPUs.
// - crunch/0, crunch/1 (crunch_thread): CPU hogs in bursts (~120 ms of work,
//   longer than a time slice, then 1.5 s of sleep), so a task that wakes up often finds its CPU taken
//   and is pulled by an idle CPU (migration), and the tick has to time-slice.
//   The bursts keep a served machine cheap on the host (docs/benchmarks.md).

import {
  eax, ebx, ecx, edi, esi, r12, r13, r14, rax, rbp, rbx, rcx, rdi, rdx, rsi, qword,
} from './asm.js';
import { cstring, fn, gsd, type Sections } from './kbuild.js';
import { PCPU } from './layout.js';

/** counter_inc calls between two msleep()s in counter_loop. */
export const COUNTER_BATCH = 300;
export const COUNTER_SLEEP_MS = 10;
/** Iterations of the busy loop inside / outside demo_lock. */
export const WORKER_HOLD = 100;
export const WORKER_WORK = 500;
/** A worker prints and sleeps every 2^WORKER_REPORT_SHIFT iterations. */
export const WORKER_REPORT_SHIFT = 6;
export const WORKER_SLEEP_MS = 20;
/** crunch_thread reports and sleeps CRUNCH_SLEEP_MS after every 2^CRUNCH_BURST_SHIFT rounds (~120 ms of work). */
export const CRUNCH_BURST_SHIFT = 20;
export const CRUNCH_SLEEP_MS = 1500;

/** Kernel threads kthreads_init starts, in pid order. */
export const DEMO_THREADS = [
  { pid: 1, comm: 'counter', fn: 'counter_thread' },
  { pid: 2, comm: 'worker/0', fn: 'worker_thread' },
  { pid: 3, comm: 'worker/1', fn: 'worker_thread' },
  { pid: 4, comm: 'crunch/0', fn: 'crunch_thread' },
  { pid: 5, comm: 'crunch/1', fn: 'crunch_thread' },
  // issue 4: the perf user of hardware breakpoints (src/kernel/perf.ts)
  { pid: 6, comm: 'perf_bp', fn: 'perf_bp_thread' },
] as const;

export function emitDemo(k: Sections): void {
  const a = k.text;

  k.data.align(8);
  k.data.object('counter_value', 8);
  k.data.object('demo_shared', 8);
  k.data.object('crunch_value', 8);
  k.data.object('demo_lock', 4); // DEFINE_SPINLOCK(demo_lock)
  for (const t of DEMO_THREADS) cstring(k, `comm_${t.comm.replace('/', '_')}`, t.comm);
  cstring(k, 'counter_hello', 'counter_thread: counting on CPU%d\n');
  cstring(k, 'worker_report', 'worker/%d: %lu rounds, demo_shared %lu\n');
  cstring(k, 'crunch_report', 'crunch/%d: %lx\n');

  // void counter_inc(void): the one instruction everything watches
  fn(a, 'counter_inc', () => {
    a.inc(qword('counter_value'));
    a.pop(rbp);
    a.ret();
  });

  // void counter_loop(void)
  fn(a, 'counter_loop', () => {
    a.push(rbx);
    a.push(r12);
    a.label('.batch');
    a.mov(ebx, COUNTER_BATCH);
    a.label('.inc');
    a.call('counter_inc');
    a.dec(ebx);
    a.j('ne', '.inc');
    a.mov(edi, COUNTER_SLEEP_MS);
    a.call('msleep');
    a.jmp('.batch');
  });

  // int counter_thread(void *unused)
  fn(a, 'counter_thread', () => {
    a.lea(rdi, qword('counter_hello'));
    a.mov(esi, gsd(PCPU.cpu_number));
    a.call('printk');
    a.call('counter_loop');
    a.xor(eax, eax);
    a.pop(rbp);
    a.ret();
  });

  // int worker_thread(void *id)
  fn(a, 'worker_thread', () => {
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.push(r14);
    a.mov(r12, rdi); // id
    a.xor(r13, r13); // rounds
    a.label('.round');
    a.lea(rdi, qword('demo_lock'));
    a.call('_raw_spin_lock');
    a.inc(qword('demo_shared'));
    a.mov(r14, qword('demo_shared'));
    a.mov(ecx, WORKER_HOLD); // hold the lock a while: the other worker spins
    a.label('.hold');
    a.dec(ecx);
    a.j('ne', '.hold');
    a.lea(rdi, qword('demo_lock'));
    a.call('_raw_spin_unlock');
    a.mov(ecx, WORKER_WORK); // work without the lock
    a.label('.work');
    a.dec(ecx);
    a.j('ne', '.work');
    a.inc(r13);
    a.test(r13, (1 << WORKER_REPORT_SHIFT) - 1);
    a.j('ne', '.round');
    a.lea(rdi, qword('worker_report'));
    a.mov(rsi, r12);
    a.mov(rdx, r13);
    a.mov(rcx, r14);
    a.call('printk');
    a.mov(edi, WORKER_SLEEP_MS);
    a.call('msleep');
    a.jmp('.round');
  });

  // int crunch_thread(void *id): a CPU hog in bursts (xorshift64)
  fn(a, 'crunch_thread', () => {
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.mov(r13, rdi); // id
    a.mov(rax, 0x9e3779b97f4a7c15n);
    a.add(rax, rdi);
    a.xor(r12, r12);
    a.label('.loop');
    a.mov(rcx, rax);
    a.shl(rcx, 13);
    a.xor(rax, rcx);
    a.mov(rcx, rax);
    a.shr(rcx, 7);
    a.xor(rax, rcx);
    a.mov(rcx, rax);
    a.shl(rcx, 17);
    a.xor(rax, rcx);
    a.mov(qword('crunch_value'), rax);
    a.inc(r12);
    a.test(r12, (1 << CRUNCH_BURST_SHIFT) - 1);
    a.j('ne', '.loop');
    a.mov(rbx, rax);
    a.lea(rdi, qword('crunch_report'));
    a.mov(rsi, r13);
    a.mov(rdx, rax);
    a.call('printk');
    a.mov(edi, CRUNCH_SLEEP_MS);
    a.call('msleep');
    a.mov(rax, rbx);
    a.jmp('.loop');
  });

  // void kthreads_init(void): start the demo threads (Linux: initcalls)
  fn(a, 'kthreads_init', () => {
    const start = (fnName: string, arg: number, comm: string): void => {
      a.lea(rdi, qword(fnName));
      a.mov(esi, arg);
      a.lea(rdx, qword(`comm_${comm.replace('/', '_')}`));
      a.call('kernel_thread');
    };
    start('counter_thread', 0, 'counter');
    start('worker_thread', 0, 'worker/0');
    start('worker_thread', 1, 'worker/1');
    start('crunch_thread', 0, 'crunch/0');
    start('crunch_thread', 1, 'crunch/1');
    start('perf_bp_thread', 0, 'perf_bp'); // issue 4
    a.pop(rbp);
    a.ret();
  });
}
