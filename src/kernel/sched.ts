// The scheduler (Linux kernel/sched/core.c, much simplified).
//
// Each CPU has a run queue (struct rq, embedded in its per-CPU area): a
// spin lock, a FIFO list of runnable tasks and their count. The running
// task is not on the queue. Policy is round robin: the timer tick gives
// each task SCHED_TIMESLICE ticks, then asks it to yield (need_resched);
// schedule() puts a still-runnable task at the tail and runs the head.
// A CPU whose queue is empty pulls the first task queued on another CPU
// (idle_balance), which is how tasks migrate; when nothing is runnable
// anywhere it runs its idle task.
//
// Locking: a run queue is only touched with its lock held and interrupts
// off. schedule() keeps the lock of its CPU's queue across the switch; the
// task switched to releases it (in schedule() after __switch_to returns, or
// in schedule_tail() for a brand-new task), as Linux's finish_task_switch()
// does. That is what stops another CPU from stealing the task being
// switched out while it still runs on its stack.

import {
  eax, ebx, ecx, edi, edx, esi, r10, r12, r12d, r13, r13d, r14, r15, r8, r8d, r9, rax, rbp, rbx, rcx, rdi, rdx, rsi,
  dword, qword,
} from './asm.js';
import { fn, gsd, gsq, type Sections } from './kbuild.js';
import {
  MSR, NR_CPUS, NR_TASKS, PCPU, PERCPU_SHIFT, PF_IDLE, PF_KTHREAD, SCHED_TIMESLICE, TASK, TASK_COMM_LEN,
  TASK_RUNNING, TASK_STRUCT_SIZE, TASK_UNINTERRUPTIBLE, TASK_WAKING, THREAD_SIZE, VECTOR,
} from './layout.js';


export function emitSched(k: Sections): void {
  const a = k.text;

  // ------------------------------------------------------------ data

  // Tasks queued on all run queues together: lets an idle CPU see in one
  // read whether there is anything to pull.
  k.data.align(8);
  k.data.object('nr_running', 4);
  // Kernel threads (pid = index + 1) and their stacks; nr_tasks entries in use.
  k.data.object('nr_tasks', 4);
  k.bss.align(4096);
  k.bss.object('task_table', NR_TASKS * TASK_STRUCT_SIZE);
  k.bss.align(4096);
  k.bss.object('task_stacks', NR_TASKS * THREAD_SIZE);
  k.bss.align(4096);
  k.bss.object('idle_stacks', NR_CPUS * THREAD_SIZE);

  // The idle tasks, one per possible CPU, statically initialised like
  // Linux's init_task: pid 0, named swapper/N, running on CPU N, with its
  // boot stack. Never on a run queue; each CPU's idle loop runs in one.
  k.data.align(64);
  k.data.object('idle_tasks', 0, () => {
    const d = k.data;
    for (let cpu = 0; cpu < NR_CPUS; cpu++) {
      const start = d.offset;
      const at = (off: number): void => { while (d.offset < start + off) d.byte(0); };
      at(TASK.state); d.quad(TASK_RUNNING);
      at(TASK.stack); d.quad(d.addr('idle_stacks', cpu * THREAD_SIZE));
      at(TASK.pid); d.long(0);
      at(TASK.cpu); d.long(cpu);
      at(TASK.flags); d.long(PF_IDLE | PF_KTHREAD);
      at(TASK.comm);
      const name = Buffer.from(`swapper/${cpu}`);
      d.bytes(name);
      at(TASK.comm + TASK_COMM_LEN);
      at(TASK_STRUCT_SIZE);
    }
  });

  // ------------------------------------------------------------ run queue primitives

  // void enqueue_task(struct rq *rq /* per-CPU area */, struct task_struct *p): add at the tail
  fn(a, 'enqueue_task', () => {
    a.lea(rax, qword(rdi, PCPU.rq_queue)); // head
    a.lea(rcx, qword(rsi, TASK.run_list)); // new
    a.mov(rdx, qword(rax, 8)); // last = head->prev
    a.mov(qword(rcx, 0), rax); // new->next = head
    a.mov(qword(rcx, 8), rdx); // new->prev = last
    a.mov(qword(rdx, 0), rcx); // last->next = new
    a.mov(qword(rax, 8), rcx); // head->prev = new
    a.mov(dword(rsi, TASK.on_rq), 1);
    a.inc(dword(rdi, PCPU.rq_nr_running));
    a.lock().inc(dword('nr_running'));
    a.pop(rbp);
    a.ret();
  });

  // struct task_struct *dequeue_task(struct rq *rq): remove and return the head, or NULL
  fn(a, 'dequeue_task', () => {
    a.lea(rdx, qword(rdi, PCPU.rq_queue)); // head
    a.mov(rcx, qword(rdx, 0)); // first = head->next
    a.xor(eax, eax);
    a.cmp(rcx, rdx);
    a.j('e', '.out'); // empty
    a.mov(r8, qword(rcx, 0)); // list_del(first)
    a.mov(r9, qword(rcx, 8));
    a.mov(qword(r9, 0), r8);
    a.mov(qword(r8, 8), r9);
    a.mov(qword(rcx, 0), 0);
    a.mov(qword(rcx, 8), 0);
    a.lea(rax, qword(rcx, -TASK.run_list)); // container_of(first, struct task_struct, run_list)
    a.mov(dword(rax, TASK.on_rq), 0);
    a.dec(dword(rdi, PCPU.rq_nr_running));
    a.lock().dec(dword('nr_running'));
    a.label('.out');
    a.pop(rbp);
    a.ret();
  });

  // struct task_struct *idle_balance(void): this CPU has nothing to run; pull
  // the first task queued on another CPU (searching upwards from this CPU,
  // wrapping). Called with this CPU's rq lock held: the other queue's lock
  // is only try-locked, so two CPUs pulling from each other cannot deadlock.
  fn(a, 'idle_balance', () => {
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.push(r14);
    a.push(r15);
    a.xor(eax, eax);
    a.cmp(dword('nr_running'), 0);
    a.j('e', '.out');
    a.mov(r12d, dword('nr_cpu_ids'));
    a.mov(r13d, gsd(PCPU.cpu_number));
    a.mov(ebx, 1);
    a.label('.next_cpu');
    a.cmp(ebx, r12d);
    a.j('ae', '.none');
    a.lea(eax, qword({ base: r13, index: rbx })); // cpu = this + i, wrapped below nr_cpu_ids
    a.cmp(eax, r12d);
    a.j('b', '.in_range');
    a.sub(eax, r12d);
    a.label('.in_range');
    a.shl(rax, PERCPU_SHIFT);
    a.lea(r14, qword('per_cpu_area'));
    a.add(r14, rax); // that CPU's rq
    a.cmp(dword(r14, PCPU.rq_nr_running), 0);
    a.j('e', '.skip');
    a.lea(rdi, qword(r14, PCPU.rq_lock));
    a.call('_raw_spin_trylock');
    a.test(eax, eax);
    a.j('e', '.skip');
    a.mov(rdi, r14);
    a.call('dequeue_task');
    a.mov(r15, rax);
    a.lea(rdi, qword(r14, PCPU.rq_lock));
    a.call('_raw_spin_unlock');
    a.mov(rax, r15);
    a.test(rax, rax);
    a.j('e', '.skip');
    a.jmp('.out');
    a.label('.skip');
    a.inc(ebx);
    a.jmp('.next_cpu');
    a.label('.none');
    a.xor(eax, eax);
    a.label('.out');
    a.pop(r15);
    a.pop(r14);
    a.pop(r13);
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });

  // struct task_struct *pick_next_task(struct rq *rq): head of our queue,
  // else a task pulled from another CPU, else our idle task.
  fn(a, 'pick_next_task', () => {
    a.push(rbx);
    a.push(r12);
    a.mov(rbx, rdi);
    a.call('dequeue_task');
    a.test(rax, rax);
    a.j('ne', '.out');
    a.call('idle_balance');
    a.test(rax, rax);
    a.j('ne', '.out');
    a.mov(rax, qword(rbx, PCPU.idle_task));
    a.label('.out');
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });

  // ------------------------------------------------------------ schedule()

  // void schedule(void): give up the CPU. The current task keeps running
  // later if its state is still TASK_RUNNING (it goes to the tail of the
  // queue); a task that set another state (msleep) stays off the queues
  // until wake_up_process(). Callable with interrupts on or off: RFLAGS is
  // saved on the task's own stack and restored when the task runs again.
  fn(a, 'schedule', () => {
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.push(r14);
    a.pushfq();
    a.cli();
    a.mov(rbx, gsq(PCPU.current_task)); // prev
    a.mov(r12, gsq(PCPU.this_cpu_off)); // this CPU's rq
    a.lea(rdi, qword(r12, PCPU.rq_lock));
    a.call('_raw_spin_lock');
    a.mov(gsd(PCPU.need_resched), 0);
    // issue 5: if the softlockup tick "woke the watchdog", getting here is what
    // Linux's watchdog/N thread proves: touch (src/kernel/softlockup.ts).
    a.call('softlockup_sched_touch');
    a.cmp(rbx, qword(r12, PCPU.idle_task));
    a.j('e', '.pick'); // the idle task is never queued
    a.cmp(qword(rbx, TASK.state), TASK_RUNNING);
    a.j('ne', '.sleeps');
    a.inc(qword(rbx, TASK.nivcsw)); // preempted (or yielded): back to the tail of the queue
    a.mov(rdi, r12);
    a.mov(rsi, rbx);
    a.call('enqueue_task');
    a.jmp('.pick');
    a.label('.sleeps');
    a.inc(qword(rbx, TASK.nvcsw)); // going to sleep: stays off the queue
    a.label('.pick');
    a.mov(rdi, r12);
    a.call('pick_next_task');
    a.mov(r13, rax); // next
    a.cmp(r13, rbx);
    a.j('e', '.finish'); // nothing else to run: keep going
    a.mov(eax, gsd(PCPU.cpu_number));
    a.cmp(eax, dword(r13, TASK.cpu));
    a.j('e', '.switch');
    a.inc(dword(r13, TASK.nr_migrations)); // pulled here from another CPU's queue
    a.inc(gsq(PCPU.nr_migrations));
    a.mov(dword(r13, TASK.cpu), eax);
    a.label('.switch');
    a.inc(gsq(PCPU.nr_switches));
    a.inc(qword(r13, TASK.pcount));
    a.mov(rax, qword('jiffies'));
    a.mov(qword(r13, TASK.last_arrival), rax);
    a.mov(rdi, rbx);
    a.mov(rsi, r13);
    a.call('__switch_to'); // returns when some CPU switches back to prev
    a.label('.finish');
    // finish_task_switch(): release the rq lock taken by whoever switched to
    // us: the lock of the CPU we are running on *now*.
    a.mov(rdi, gsq(PCPU.this_cpu_off));
    a.add(rdi, PCPU.rq_lock);
    a.call('_raw_spin_unlock');
    a.popfq();
    a.pop(r14);
    a.pop(r13);
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });

  // void schedule_tail(void): the first thing a new task does (from
  // ret_from_fork): finish the switch that started it, then enable
  // interrupts, which every kernel thread runs with.
  fn(a, 'schedule_tail', () => {
    a.mov(rdi, gsq(PCPU.this_cpu_off));
    a.add(rdi, PCPU.rq_lock);
    a.call('_raw_spin_unlock');
    a.sti();
    a.pop(rbp);
    a.ret();
  });

  // void preempt_schedule_irq(void): called on the way out of an interrupt
  // when need_resched is set and preempt_count is 0: the interrupted task
  // is preempted here, with its pt_regs frame below this on its stack.
  fn(a, 'preempt_schedule_irq', () => {
    a.label('.again');
    a.call('schedule');
    a.cmp(gsd(PCPU.need_resched), 0);
    a.j('ne', '.again');
    a.pop(rbp);
    a.ret();
  });

  // ------------------------------------------------------------ wakeups and the tick

  // int select_task_rq(struct task_struct *p): the CPU a waking task should
  // run on. Its previous CPU if that one is idle (its cache is warm there);
  // otherwise the next online idle CPU after it, so a task that wakes up
  // while its CPU is busy moves instead of waiting (Linux select_idle_sibling);
  // otherwise its previous CPU, where it waits its turn.
  fn(a, 'select_task_rq', () => {
    a.mov(eax, dword(rdi, TASK.cpu)); // prev
    a.mov(r8d, dword('nr_cpu_ids'));
    a.lea(r9, qword('per_cpu_area'));
    a.mov(edx, eax);
    a.shl(rdx, PERCPU_SHIFT);
    a.add(rdx, r9);
    a.mov(rcx, qword(rdx, PCPU.current_task));
    a.cmp(rcx, qword(rdx, PCPU.idle_task));
    a.j('ne', '.search');
    a.cmp(dword(rdx, PCPU.rq_nr_running), 0);
    a.j('e', '.out');
    a.label('.search');
    a.mov(esi, 1);
    a.label('.loop');
    a.cmp(esi, r8d);
    a.j('ae', '.out'); // nobody idle: stay with prev
    a.lea(ecx, qword({ base: rax, index: rsi }));
    a.cmp(ecx, r8d);
    a.j('b', '.in_range');
    a.sub(ecx, r8d);
    a.label('.in_range');
    a.mov(edx, ecx);
    a.shl(rdx, PERCPU_SHIFT);
    a.add(rdx, r9);
    a.cmp(dword(rdx, PCPU.online), 0);
    a.j('e', '.next');
    a.mov(r10, qword(rdx, PCPU.current_task));
    a.cmp(r10, qword(rdx, PCPU.idle_task));
    a.j('ne', '.next');
    a.cmp(dword(rdx, PCPU.rq_nr_running), 0);
    a.j('ne', '.next');
    a.mov(eax, ecx);
    a.jmp('.out');
    a.label('.next');
    a.inc(esi);
    a.jmp('.loop');
    a.label('.out');
    a.pop(rbp);
    a.ret();
  });

  // int wake_up_process(struct task_struct *p) (try_to_wake_up): make a
  // sleeping or new task runnable. Returns 1 if this call woke it, 0 if it
  // was running or being woken already. The waker first claims the task by
  // moving its state to TASK_WAKING with cmpxchg, so two CPUs can never
  // both queue it; then it picks a CPU and queues the task there.
  fn(a, 'wake_up_process', () => {
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.pushfq();
    a.cli();
    a.mov(rbx, rdi);
    a.xor(r13d, r13d);
    a.label('.claim');
    a.mov(rax, qword(rbx, TASK.state));
    a.cmp(rax, TASK_RUNNING);
    a.j('e', '.out');
    a.cmp(rax, TASK_WAKING);
    a.j('e', '.out');
    a.mov(ecx, TASK_WAKING);
    a.lock().cmpxchg(qword(rbx, TASK.state), rcx);
    a.j('ne', '.claim');
    a.mov(rdi, rbx);
    a.call('select_task_rq');
    a.mov(ecx, eax);
    a.shl(rcx, PERCPU_SHIFT);
    a.lea(r12, qword('per_cpu_area'));
    a.add(r12, rcx); // that CPU's rq
    a.cmp(eax, dword(rbx, TASK.cpu));
    a.j('e', '.lock');
    a.mov(dword(rbx, TASK.cpu), eax); // moved at wakeup
    a.inc(dword(rbx, TASK.nr_migrations));
    a.lock().inc(qword(r12, PCPU.nr_migrations));
    a.label('.lock');
    a.lea(rdi, qword(r12, PCPU.rq_lock));
    a.call('_raw_spin_lock');
    a.mov(qword(rbx, TASK.state), TASK_RUNNING);
    a.mov(rdi, r12);
    a.mov(rsi, rbx);
    a.call('enqueue_task');
    // check_preempt_curr(): an idle CPU should switch to it right away
    a.mov(rax, qword(r12, PCPU.current_task));
    a.cmp(rax, qword(r12, PCPU.idle_task));
    a.j('ne', '.queued');
    a.mov(dword(r12, PCPU.need_resched), 1);
    a.cmp(r12, gsq(PCPU.this_cpu_off));
    a.j('e', '.queued');
    a.mov(edi, dword(rbx, TASK.cpu));
    a.call('smp_send_reschedule'); // another CPU, maybe halted in hlt: kick it
    a.label('.queued');
    a.lea(rdi, qword(r12, PCPU.rq_lock));
    a.call('_raw_spin_unlock');
    a.mov(r13d, 1);
    a.label('.out');
    a.mov(eax, r13d);
    a.popfq();
    a.pop(r13);
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });

  // void smp_send_reschedule(int cpu): IPI RESCHEDULE_VECTOR to a CPU (x2APIC ICR)
  fn(a, 'smp_send_reschedule', () => {
    a.mov(edx, edi); // destination CPU
    a.mov(eax, VECTOR.RESCHEDULE); // fixed delivery, no shorthand
    a.mov(ecx, MSR.APIC_ICR);
    a.wrmsr();
    a.pop(rbp);
    a.ret();
  });

  // void scheduler_tick(void): from the timer interrupt. Charge the tick to
  // the running task and end its time slice; an idle CPU instead asks to
  // reschedule whenever tasks are queued anywhere, so that it pulls one.
  fn(a, 'scheduler_tick', () => {
    a.mov(rax, gsq(PCPU.current_task));
    a.cmp(rax, gsq(PCPU.idle_task));
    a.j('ne', '.task');
    a.cmp(dword('nr_running'), 0);
    a.j('e', '.out');
    a.mov(gsd(PCPU.need_resched), 1);
    a.jmp('.out');
    a.label('.task');
    a.inc(qword(rax, TASK.stime));
    a.dec(dword(rax, TASK.time_slice));
    a.j('g', '.out');
    a.mov(dword(rax, TASK.time_slice), SCHED_TIMESLICE);
    a.cmp(gsd(PCPU.rq_nr_running), 0); // only worth switching if someone waits here
    a.j('ne', '.resched');
    a.cmp(dword('nr_running'), 0); // ... or anywhere (an idle CPU will pull it)
    a.j('e', '.out');
    a.label('.resched');
    a.mov(gsd(PCPU.need_resched), 1);
    a.label('.out');
    a.pop(rbp);
    a.ret();
  });

  // void run_local_timers(void): wake the tasks sleeping in msleep() on
  // this CPU whose time has come (Linux runs the timer wheel here; our only
  // timers are task timeouts, kept in task_struct.wake_jiffies). The current
  // task is skipped: it may be between setting its state and schedule().
  fn(a, 'run_local_timers', () => {
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.push(r14);
    a.lea(rbx, qword('task_table'));
    a.mov(r12d, dword('nr_tasks'));
    a.mov(r13d, gsd(PCPU.cpu_number));
    a.mov(r14, qword('jiffies'));
    a.label('.loop');
    a.test(r12d, r12d);
    a.j('e', '.done');
    a.cmp(qword(rbx, TASK.state), TASK_UNINTERRUPTIBLE);
    a.j('ne', '.next');
    a.cmp(dword(rbx, TASK.cpu), r13d);
    a.j('ne', '.next');
    a.cmp(rbx, gsq(PCPU.current_task));
    a.j('e', '.next');
    a.mov(rax, r14);
    a.sub(rax, qword(rbx, TASK.wake_jiffies)); // time_after_eq(jiffies, wake_jiffies)
    a.j('s', '.next');
    a.mov(rdi, rbx);
    a.call('wake_up_process');
    a.label('.next');
    a.add(rbx, TASK_STRUCT_SIZE);
    a.dec(r12d);
    a.jmp('.loop');
    a.label('.done');
    a.pop(r14);
    a.pop(r13);
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });
}

