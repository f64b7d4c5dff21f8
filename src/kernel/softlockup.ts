// The softlockup detector (Linux 2.6.33 kernel/softlockup.c, with seed 001
// patch 4 "softlockup: add sched_clock_tick() to avoid kernel warning on kgdb
// resume") and the per-CPU scheduler clock it reads (kernel/sched_clock.c,
// CONFIG_HAVE_UNSTABLE_SCHED_CLOCK).
//
// The scheduler clock. cpu_clock() is the TSC, but clamped to at most one
// tick (TICK_NSEC) past the value sched_clock_tick() recorded at this CPU's
// last timer tick: Linux's __update_sched_clock() keeps "now" inside a window
// built from the GTOD value of the last tick. So the clock does not advance
// while the CPU takes no ticks (interrupts off, or held by the debugger),
// however far the TSC has run meanwhile; the next sched_clock_tick() jumps it.
//
// The detector. Every tick softlockup_tick() compares cpu_clock (in seconds)
// with this CPU's touch timestamp. Linux refreshes the timestamp from a
// SCHED_FIFO thread watchdog/N that softlockup_tick() wakes once half the
// threshold has passed. This kernel has the equivalent without a thread (so
// the task list gdb sees stays the demo's): softlockup_tick() "wakes the
// watchdog" by setting this CPU's softlockup_wake flag and need_resched, and
// schedule() calls softlockup_sched_touch(), which refreshes the timestamp
// when the flag is set. Either way the touch proves the same thing: this CPU
// got through the scheduler. If it has not for softlockup_thresh (20) seconds:
//
//   BUG: soft lockup - CPU#N stuck for Ns! [comm:pid]
//
// The debugger. A CPU held by kgdb takes no ticks while the TSC keeps going
// (docs/machine.md, clock policy). On resume kgdb calls
// touch_softlockup_watchdog_sync() (touch_ts = 0, softlock_touch_sync = 1),
// so the first tick after resume runs sched_clock_tick() *before* re-arming
// the timestamp. Without the sync (the 2.6.33 regression, `--legacy
// softlockup-nosync`) the first tick re-arms with the stale clock, the same
// tick's scheduler_tick() then jumps the clock forward, and the second tick
// reports a soft lockup as long as the pause. The resume path itself is host
// code (src/kgdb/watchdog-touch.ts) doing exactly the stores of the two touch
// functions below, which are here for reading and for gdb (`call`).
//
// Events: the report is also recorded with record_kernel_event() (watchdog.ts)
// so `kgdb-sim run --json` can list it with its CPU and time.

import { eax, ecx, edi, edx, esi, r12, r8, r8d, rax, rbp, rbx, rcx, rdi, rdx, rsi, dword, qword } from './asm.js';
import { cstring, fn, gsd, gsq, type Sections } from './kbuild.js';
import { HZ, PCPU, TASK } from './layout.js';

/** Seconds without a touch before a soft lockup is reported (Linux's default was 60; the issue asks 20). */
export const SOFTLOCKUP_THRESH = 20;
/** Nanoseconds per tick: how far cpu_clock() may run ahead of the last sched_clock_tick(). */
export const TICK_NSEC = 1_000_000_000 / HZ;
/** record_kernel_event() kind of a soft-lockup report (value = seconds stuck, value2 = pid). */
export const KEV_SOFT_LOCKUP = 1;

export function emitSoftlockup(k: Sections): void {
  const a = k.text;

  k.data.align(8);
  k.data.object('softlockup_thresh', 0, () => k.data.long(SOFTLOCKUP_THRESH));
  cstring(k, 'softlockup_bug_fmt', 'BUG: soft lockup - CPU#%d stuck for %lus! [%s:%d]\n');

  // void sched_clock_tick(void): from every tick (before scheduler_tick, as
  // Linux's scheduler_tick() starts with it): the clock catches up with the TSC.
  fn(a, 'sched_clock_tick', () => {
    a.rdtsc();
    a.shl(rdx, 32);
    a.or(rax, rdx);
    a.mov(gsq(PCPU.sched_clock_tick_ns), rax);
    a.pop(rbp);
    a.ret();
  });

  // u64 sched_clock_cpu(void) (cpu_clock(this_cpu)): ns, the TSC clamped to
  // one tick past the last sched_clock_tick(). Clobbers rax, rcx, rdx.
  fn(a, 'sched_clock_cpu', () => {
    a.rdtsc();
    a.shl(rdx, 32);
    a.or(rax, rdx);
    a.mov(rcx, gsq(PCPU.sched_clock_tick_ns));
    a.add(rcx, TICK_NSEC);
    a.cmp(rax, rcx);
    a.cmov('a', rax, rcx); // min(tsc, last tick + TICK_NSEC)
    a.pop(rbp);
    a.ret();
  });

  // unsigned long get_timestamp(void): cpu_clock in whole seconds (Linux
  // shifts by 30; we divide, so "stuck for 80s" means 80 s). Clobbers rax, rcx, rdx.
  fn(a, 'get_timestamp', () => {
    a.call('sched_clock_cpu');
    a.xor(edx, edx);
    a.mov(ecx, 1_000_000_000);
    a.div(rcx);
    a.pop(rbp);
    a.ret();
  });

  // void __touch_softlockup_watchdog(void): the timestamp is now.
  fn(a, '__touch_softlockup_watchdog', () => {
    a.call('get_timestamp');
    a.mov(gsq(PCPU.softlockup_touch_ts), rax);
    a.pop(rbp);
    a.ret();
  });

  // void touch_softlockup_watchdog(void): re-arm at the next tick (touch_ts = 0).
  fn(a, 'touch_softlockup_watchdog', () => {
    a.mov(gsq(PCPU.softlockup_touch_ts), 0);
    a.pop(rbp);
    a.ret();
  });

  // void touch_softlockup_watchdog_sync(void) (seed 001 patch 4): re-arm at
  // the next tick, and sync the scheduler clock first.
  fn(a, 'touch_softlockup_watchdog_sync', () => {
    a.mov(gsd(PCPU.softlock_touch_sync), 1);
    a.mov(gsq(PCPU.softlockup_touch_ts), 0);
    a.pop(rbp);
    a.ret();
  });

  // void softlockup_sched_touch(void): called by schedule(). If the tick
  // "woke the watchdog", this is where watchdog/N would have run: touch.
  // Clobbers rax, rcx, rdx only.
  fn(a, 'softlockup_sched_touch', () => {
    a.cmp(gsd(PCPU.softlockup_wake), 0);
    a.j('e', '.out');
    a.mov(gsd(PCPU.softlockup_wake), 0);
    a.call('__touch_softlockup_watchdog');
    a.mov(rax, gsq(PCPU.current_task));
    a.mov(gsq(PCPU.softlockup_watchdog), rax); // who got the CPU through schedule()
    a.label('.out');
    a.pop(rbp);
    a.ret();
  });

  // void softlockup_tick(void): from the timer interrupt (Linux calls it from
  // run_local_timers(), before scheduler_tick() and its sched_clock_tick()).
  fn(a, 'softlockup_tick', () => {
    a.push(rbx);
    a.push(r12);
    // kgdb asked for a synced re-arm (seed 001 patch 4): bring the clock up to
    // date, then re-arm. Linux tests the flag only when touch_ts == 0; we test
    // it first, because a stop can land inside __touch_softlockup_watchdog
    // after it read the clock: resumed, it stores that stale timestamp over
    // kgdb's 0, and the flag is then the only trace of the debugger's request.
    a.cmp(gsd(PCPU.softlock_touch_sync), 0);
    a.j('e', '.no_sync');
    a.mov(gsd(PCPU.softlock_touch_sync), 0);
    a.call('sched_clock_tick');
    a.jmp('.touch');
    a.label('.no_sync');
    a.mov(rbx, gsq(PCPU.softlockup_touch_ts));
    a.test(rbx, rbx);
    a.j('ne', '.armed');
    a.label('.touch'); // touch_ts == 0: somebody (kgdb) asked for a re-arm
    a.call('__touch_softlockup_watchdog');
    a.jmp('.out');

    a.label('.armed');
    a.cmp(rbx, gsq(PCPU.softlockup_print_ts));
    a.j('e', '.out'); // already reported for this timestamp
    a.call('get_timestamp');
    a.mov(r12, rax);
    a.sub(r12, rbx); // now - touch_ts (seconds)
    // Wake the watchdog once half the threshold has passed (Linux:
    // wake_up_process(per_cpu(softlockup_watchdog))).
    a.mov(eax, dword('softlockup_thresh'));
    a.shr(eax, 1);
    a.cmp(r12, rax);
    a.j('le', '.no_wake');
    a.mov(gsd(PCPU.softlockup_wake), 1);
    a.mov(gsd(PCPU.need_resched), 1);
    a.label('.no_wake');
    a.mov(eax, dword('softlockup_thresh'));
    a.cmp(r12, rax);
    a.j('le', '.out'); // time_before_eq(now - thresh, touch_ts)
    a.mov(gsq(PCPU.softlockup_print_ts), rbx);
    // printk(KERN_ERR "BUG: soft lockup - CPU#%d stuck for %lus! [%s:%d]\n", ...)
    a.lea(rdi, qword('softlockup_bug_fmt'));
    a.mov(esi, gsd(PCPU.cpu_number));
    a.mov(rdx, r12);
    a.mov(r8, gsq(PCPU.current_task));
    a.lea(rcx, qword(r8, TASK.comm));
    a.mov(r8d, dword(r8, TASK.pid));
    a.call('printk');
    a.mov(edi, KEV_SOFT_LOCKUP);
    a.mov(rsi, r12);
    a.mov(rdx, gsq(PCPU.current_task));
    a.mov(edx, dword(rdx, TASK.pid));
    a.call('record_kernel_event');
    a.label('.out');
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });
}
