// The clocksource watchdog (Linux 2.6.33 kernel/time/clocksource.c) and the
// kernel event ring the host reads to report watchdog events.
//
// The TSC is the kernel's clocksource; the watchdog checks it against a
// second, independent hardware counter. Here that counter is an ACPI-PM-like
// timer made from the simulator's HPET MSR (0x4b560001, 14.31818 MHz): read
// divided by 4 — 3.579545 MHz, the ACPI PM timer's own rate — and through a
// 24-bit mask, so it wraps every 4.69 s like the real pm_timer tglx mentions in
// the seed 001 thread ("pm_timer wraps about every 4.6s").
//
// Every WATCHDOG_INTERVAL (0.5 s) one CPU runs clocksource_watchdog() under
// the spin lock watchdog_lock (Linux: from the watchdog timer, which it
// re-arms on the next online CPU; here the tick calls run_watchdog_timer() on
// every CPU and the one whose turn it is runs the watchdog). It reads both
// counters, converts both deltas since the last run to ns and, if they differ
// by more than WATCHDOG_THRESHOLD (62.5 ms), marks the TSC unstable:
//
//   Clocksource tsc unstable (delta = -4312345678 ns)
//
// Why a debugger must touch it: both counters keep running while kgdb holds
// the machine, but the watchdog counter wraps. After a pause longer than 4.69 s
// its delta is meaningless and the TSC would be marked unstable — falsely. So
// kgdb's resume path calls clocksource_touch_watchdog(), which resets the
// watchdog (clears CLOCK_SOURCE_WATCHDOG: the next run takes a new baseline
// instead of comparing). The reset needs watchdog_lock, and the machine may
// have been stopped *inside* clocksource_watchdog with the lock held: a
// blocking spin_lock there spins forever on a lock held by the code it
// interrupted (the 2.6.33 regression, `--legacy clocksource-spinlock`). tglx's
// fix takes it with trylock and, when that fails, returns without resetting
// and accepts that the TSC may be marked unstable. The resume path is host
// code (src/kgdb/watchdog-touch.ts); clocksource_touch_watchdog below is the
// same logic in kernel code, for reading and for gdb.

import { eax, ecx, edi, edx, esi, r12, r8, r8d, r9, rax, rbp, rbx, rcx, rdi, rdx, rsi, dword, qword } from './asm.js';
import { cstring, fn, gsd, type Sections } from './kbuild.js';
import { HZ, MSR, PCPU } from './layout.js';

/** Jiffies between two watchdog runs (Linux WATCHDOG_INTERVAL = HZ >> 1). */
export const WATCHDOG_INTERVAL = HZ >> 1;
/** Largest tolerated TSC-vs-watchdog disagreement per interval (Linux NSEC_PER_SEC >> 4). */
export const WATCHDOG_THRESHOLD_NS = 1_000_000_000 / 16;
/** The watchdog counter: HPET / 4 = 3.579545 MHz, 24 bits. */
export const ACPI_PM_HZ = 3_579_545;
export const ACPI_PM_MASK = 0xffffff;
/** clocksource flags (Linux values). */
export const CLOCK_SOURCE_WATCHDOG = 0x10;
export const CLOCK_SOURCE_UNSTABLE = 0x40;

/** record_kernel_event() kind for "TSC marked unstable" (value = delta ns, signed). */
export const KEV_TSC_UNSTABLE = 2;
/** The kernel event ring: KEV_RING entries of KEV_SIZE bytes. */
export const KEV_RING = 128;
export const KEV_SHIFT = 6;
export const KEV_SIZE = 1 << KEV_SHIFT;
/** Entry fields: TSC at the event, seq (index + 1, written last: the entry is complete), CPU, kind, two values. */
export const KEV = { tsc: 0, seq: 8, cpu: 16, kind: 20, value: 24, value2: 32 } as const;

/** Symbols the host side reads (src/kgdb/watchdog-touch.ts, `monitor watchdog`). */
export const WD_SYM = {
  lock: 'watchdog_lock', // u32 spin lock: 0 free, else owner cpu + 1
  timerExpires: 'watchdog_timer_expires', // u64 jiffies
  timerCpu: 'watchdog_timer_cpu', // u32
  last: 'watchdog_last', // u64: watchdog counter at the last run
  tscFlags: 'clocksource_tsc_flags', // u32: CLOCK_SOURCE_*
  tscWdLast: 'clocksource_tsc_wd_last', // u64: TSC at the last run
  events: 'kernel_events', // KEV_RING entries
  eventsHead: 'kernel_events_head', // u64: events ever recorded
} as const;

export function emitWatchdog(k: Sections): void {
  const a = k.text;

  k.data.align(8);
  k.data.object(WD_SYM.timerExpires, 0, () => k.data.quad(WATCHDOG_INTERVAL));
  k.data.object(WD_SYM.last, 8);
  k.data.object(WD_SYM.tscWdLast, 8);
  k.data.object(WD_SYM.eventsHead, 8);
  k.data.object(WD_SYM.lock, 4); // DEFINE_SPINLOCK(watchdog_lock)
  k.data.object(WD_SYM.timerCpu, 4);
  k.data.object(WD_SYM.tscFlags, 4);
  cstring(k, 'clocksource_unstable_fmt', 'Clocksource tsc unstable (delta = %ld ns)\n');
  k.bss.align(64);
  k.bss.object(WD_SYM.events, KEV_RING * KEV_SIZE);

  // void record_kernel_event(int kind, long value, long value2): append to
  // kernel_events (lock-free: a slot by lock xadd, seq written last).
  // Clobbers rax, rcx, rdx, r8, r9.
  fn(a, 'record_kernel_event', () => {
    a.mov(r9, rdx);
    a.mov(r8d, 1);
    a.lock().xadd(qword(WD_SYM.eventsHead), r8); // r8 = our index
    a.mov(ecx, r8d);
    a.and(ecx, KEV_RING - 1);
    a.shl(rcx, KEV_SHIFT);
    a.lea(rax, qword(WD_SYM.events));
    a.add(rcx, rax);
    a.rdtsc();
    a.shl(rdx, 32);
    a.or(rax, rdx);
    a.mov(qword(rcx, KEV.tsc), rax);
    a.mov(eax, gsd(PCPU.cpu_number));
    a.mov(dword(rcx, KEV.cpu), eax);
    a.mov(dword(rcx, KEV.kind), edi);
    a.mov(qword(rcx, KEV.value), rsi);
    a.mov(qword(rcx, KEV.value2), r9);
    a.inc(r8);
    a.mov(qword(rcx, KEV.seq), r8); // published
    a.pop(rbp);
    a.ret();
  });

  // u64 acpi_pm_read(void): the watchdog clocksource's read() (HPET / 4, 24 bits).
  fn(a, 'acpi_pm_read', () => {
    a.mov(ecx, MSR.SIM_HPET);
    a.rdmsr();
    a.shl(rdx, 32);
    a.or(rax, rdx);
    a.shr(rax, 2);
    a.and(eax, ACPI_PM_MASK);
    a.pop(rbp);
    a.ret();
  });

  // u64 read_tsc(void): the TSC clocksource's read() (1 GHz: cycles are ns).
  fn(a, 'read_tsc', () => {
    a.rdtsc();
    a.shl(rdx, 32);
    a.or(rax, rdx);
    a.pop(rbp);
    a.ret();
  });

  // void run_watchdog_timer(void): from every tick; runs the watchdog on the
  // CPU whose turn it is once its time has come (Linux: the watchdog_timer).
  fn(a, 'run_watchdog_timer', () => {
    a.mov(eax, gsd(PCPU.cpu_number));
    a.cmp(eax, dword(WD_SYM.timerCpu));
    a.j('ne', '.out');
    a.mov(rax, qword('jiffies'));
    a.cmp(rax, qword(WD_SYM.timerExpires));
    a.j('b', '.out');
    a.call('clocksource_watchdog');
    a.label('.out');
    a.pop(rbp);
    a.ret();
  });

  // void clocksource_watchdog(void)
  fn(a, 'clocksource_watchdog', () => {
    a.push(rbx);
    a.push(r12);
    a.lea(rdi, qword(WD_SYM.lock));
    a.call('_raw_spin_lock'); // spin_lock(&watchdog_lock)
    // wdnow = watchdog->read(); wd_nsec = cyc2ns((wdnow - watchdog_last) & mask)
    a.call('acpi_pm_read');
    a.mov(rcx, rax);
    a.sub(rcx, qword(WD_SYM.last));
    a.and(ecx, ACPI_PM_MASK);
    a.mov(qword(WD_SYM.last), rax);
    a.mov(rax, rcx);
    a.mov(ecx, 1_000_000_000);
    a.mul(rcx);
    a.mov(ecx, ACPI_PM_HZ);
    a.div(rcx);
    a.mov(r12, rax); // wd_nsec
    // Clocksource already marked unstable?
    a.test(dword(WD_SYM.tscFlags), CLOCK_SOURCE_UNSTABLE);
    a.j('ne', '.rearm');
    a.call('read_tsc'); // csnow
    // Clocksource initialized? (clocksource_reset_watchdog() clears the flag: new baseline)
    a.test(dword(WD_SYM.tscFlags), CLOCK_SOURCE_WATCHDOG);
    a.j('ne', '.check');
    a.or(dword(WD_SYM.tscFlags), CLOCK_SOURCE_WATCHDOG);
    a.mov(qword(WD_SYM.tscWdLast), rax);
    a.jmp('.rearm');
    a.label('.check');
    a.mov(rbx, rax);
    a.sub(rbx, qword(WD_SYM.tscWdLast)); // cs_nsec
    a.mov(qword(WD_SYM.tscWdLast), rax);
    a.sub(rbx, r12); // cs_nsec - wd_nsec
    a.mov(rax, rbx);
    a.test(rax, rax);
    a.j('ns', '.abs');
    a.neg(rax);
    a.label('.abs');
    a.cmp(rax, WATCHDOG_THRESHOLD_NS);
    a.j('le', '.rearm');
    // clocksource_unstable(cs, cs_nsec - wd_nsec)
    a.or(dword(WD_SYM.tscFlags), CLOCK_SOURCE_UNSTABLE);
    a.lea(rdi, qword('clocksource_unstable_fmt'));
    a.mov(rsi, rbx);
    a.call('printk');
    a.mov(edi, KEV_TSC_UNSTABLE);
    a.mov(rsi, rbx);
    a.xor(edx, edx);
    a.call('record_kernel_event');
    a.label('.rearm');
    // watchdog_timer.expires += WATCHDOG_INTERVAL; add_timer_on(next online CPU)
    a.add(qword(WD_SYM.timerExpires), WATCHDOG_INTERVAL);
    a.mov(eax, gsd(PCPU.cpu_number));
    a.inc(eax);
    a.cmp(eax, dword('nr_cpu_ids'));
    a.j('b', '.next');
    a.xor(eax, eax);
    a.label('.next');
    a.mov(dword(WD_SYM.timerCpu), eax);
    a.lea(rdi, qword(WD_SYM.lock));
    a.call('_raw_spin_unlock');
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });

  // void clocksource_touch_watchdog(void) (seed 001 patch 3 as merged by tglx):
  // reset the watchdog if watchdog_lock can be had; if it is held — the kernel
  // was stopped inside the watchdog — return: never spin here.
  fn(a, 'clocksource_touch_watchdog', () => {
    a.pushfq(); // spin_trylock_irqsave
    a.cli();
    a.lea(rdi, qword(WD_SYM.lock));
    a.call('_raw_spin_trylock');
    a.test(eax, eax);
    a.j('e', '.out'); // held: do not reset; the TSC may get marked unstable
    a.and(dword(WD_SYM.tscFlags), ~CLOCK_SOURCE_WATCHDOG); // clocksource_reset_watchdog()
    a.lea(rdi, qword(WD_SYM.lock));
    a.call('_raw_spin_unlock');
    a.label('.out');
    a.popfq();
    a.pop(rbp);
    a.ret();
  });
}
