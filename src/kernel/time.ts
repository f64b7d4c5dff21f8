// Time keeping and the periodic tick (Linux kernel/time/tick-common.c,
// timer.c, arch/x86/kernel/apic/apic.c), plus msleep().
//
// Every CPU's local APIC timer fires HZ times a second (LOCAL_TIMER_VECTOR,
// entry stub `timer_interrupt`). On each tick a CPU accounts the tick to
// its running task (scheduler_tick) and wakes its expired sleepers
// (run_local_timers); CPU 0, the tick_do_timer_cpu, also advances jiffies.

import { eax, ecx, edi, edx, rax, rbp, rcx, rdi, dword, qword } from './asm.js';
import { fn, gsd, gsq, type Sections } from './kbuild.js';
import {
  APIC_LVT_PERIODIC, APIC_TDCR_DIV_1, APIC_TIMER_COUNT, HARDIRQ_OFFSET, HZ, MSR, PCPU, TASK,
  TASK_UNINTERRUPTIBLE, VECTOR,
} from './layout.js';

export function emitTime(k: Sections): void {
  const a = k.text;

  k.data.align(8);
  // Ticks since boot, advanced by the tick_do_timer_cpu (Linux starts it
  // at INITIAL_JIFFIES to catch wrap bugs early; ours starts at 0).
  k.data.object('jiffies', 8);
  k.data.object('tick_do_timer_cpu', 4); // CPU 0

  // void setup_APIC_timer(void): periodic LOCAL_TIMER_VECTOR, HZ per second
  fn(a, 'setup_APIC_timer', () => {
    a.xor(edx, edx);
    a.mov(ecx, MSR.APIC_TDCR);
    a.mov(eax, APIC_TDCR_DIV_1);
    a.wrmsr();
    a.mov(ecx, MSR.APIC_LVT_TIMER);
    a.mov(eax, VECTOR.LOCAL_TIMER | APIC_LVT_PERIODIC);
    a.wrmsr();
    a.mov(ecx, MSR.APIC_TMICT); // writing the initial count starts the timer
    a.mov(eax, APIC_TIMER_COUNT);
    a.wrmsr();
    a.pop(rbp);
    a.ret();
  });

  // void ack_APIC_irq(void): end of interrupt, so the APIC delivers the next one
  fn(a, 'ack_APIC_irq', () => {
    a.xor(eax, eax);
    a.xor(edx, edx);
    a.mov(ecx, MSR.APIC_EOI);
    a.wrmsr();
    a.pop(rbp);
    a.ret();
  });

  // void smp_apic_timer_interrupt(struct pt_regs *regs): the C half of timer_interrupt
  fn(a, 'smp_apic_timer_interrupt', () => {
    a.add(gsd(PCPU.preempt_count), HARDIRQ_OFFSET); // irq_enter()
    a.call('ack_APIC_irq');
    a.inc(gsq(PCPU.apic_timer_irqs));
    a.call('tick_periodic');
    a.sub(gsd(PCPU.preempt_count), HARDIRQ_OFFSET); // irq_exit()
    a.pop(rbp);
    a.ret();
  });

  // void tick_periodic(void)
  fn(a, 'tick_periodic', () => {
    a.mov(eax, gsd(PCPU.cpu_number));
    a.cmp(eax, dword('tick_do_timer_cpu'));
    a.j('ne', '.local');
    a.call('do_timer');
    a.label('.local');
    a.call('update_process_times');
    a.pop(rbp);
    a.ret();
  });

  // void do_timer(void): one more jiffy (only the tick_do_timer_cpu writes it)
  fn(a, 'do_timer', () => {
    a.inc(qword('jiffies'));
    a.pop(rbp);
    a.ret();
  });

  // void update_process_times(void): this CPU's share of the tick
  fn(a, 'update_process_times', () => {
    a.call('run_local_timers');
    // issue 5 (src/kernel/softlockup.ts, watchdog.ts), in Linux 2.6.33's order:
    // run_local_timers() ends with softlockup_tick(); the watchdog timer runs
    // from the timer softirq; scheduler_tick() starts with sched_clock_tick().
    a.call('softlockup_tick');
    a.call('run_watchdog_timer');
    a.call('sched_clock_tick');
    a.call('scheduler_tick');
    a.pop(rbp);
    a.ret();
  });

  // long schedule_timeout(long timeout /* jiffies */): sleep in the state the
  // caller set until `timeout` jiffies have passed (run_local_timers wakes us).
  fn(a, 'schedule_timeout', () => {
    a.mov(rax, gsq(PCPU.current_task));
    a.add(rdi, qword('jiffies'));
    a.mov(qword(rax, TASK.wake_jiffies), rdi);
    a.call('schedule');
    a.xor(eax, eax);
    a.pop(rbp);
    a.ret();
  });

  // void msleep(unsigned int msecs): sleep at least msecs milliseconds.
  // Like Linux: msecs_to_jiffies(msecs) + 1, because the current jiffy is
  // already partly over.
  fn(a, 'msleep', () => {
    const msPerTick = 1000 / HZ;
    a.mov(eax, edi);
    a.add(rax, msPerTick - 1);
    a.xor(edx, edx);
    a.mov(ecx, msPerTick);
    a.div(rcx);
    a.inc(rax);
    a.mov(rdi, rax);
    a.mov(rax, gsq(PCPU.current_task));
    a.mov(qword(rax, TASK.state), TASK_UNINTERRUPTIBLE); // set_current_state()
    a.call('schedule_timeout');
    a.pop(rbp);
    a.ret();
  });
}
