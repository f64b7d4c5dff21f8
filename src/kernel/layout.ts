// The kernel's data layout, shared by the kernel sources (which are written
// against these offsets) and by everything that reads kernel state out of
// guest memory without guessing: the debug core (threads, current task,
// preempt_count, sleeping tasks' registers), `kgdb-sim run`, and the tests.
// docs/kernel.md explains each structure and its Linux counterpart.

// ---------------------------------------------------------------- sizes

/** Per-CPU arrays are sized for this many CPUs (the machine boots 1..NR_CPUS). */
export const NR_CPUS = 256;
/** Capacity of task_table (kernel threads other than the idle tasks). */
export const NR_TASKS = 16;
/** Kernel stack per task (idle tasks and kernel threads). */
export const THREAD_SHIFT = 13;
export const THREAD_SIZE = 1 << THREAD_SHIFT; // 8 KiB
/** Timer ticks per second (jiffies rate). */
export const HZ = 100;
/** APIC timer initial count for one tick: the timer counts at 1 GHz with divide-by-1. */
export const APIC_TIMER_COUNT = 1_000_000_000 / HZ;
/** Ticks a task runs before the tick asks it to yield to the next queued task. */
export const SCHED_TIMESLICE = 5;
/** Size of log_buf (a power of two: the write index wraps with a mask). */
export const LOG_BUF_LEN = 1 << 14;
/** Hardware breakpoint slots per CPU (DR0-DR3). */
export const HBP_NUM = 4;
/** Owner ids stored in PCPU.bp_per_reg[] (issue 4: the debug-register slot owners). */
export const HBP_OWNER = { FREE: 0, KGDB: 1, PERF: 2 } as const;
/** preempt_count is raised by this much while a CPU is in a hard interrupt handler (irq_enter). */
export const HARDIRQ_OFFSET = 1 << 16;

// ---------------------------------------------------------------- per-CPU area

/**
 * One per-CPU area per possible CPU, at `per_cpu_area + cpu * PERCPU_STRIDE`.
 * Each CPU's GS base points at its own area, so the kernel reaches these
 * fields as `%gs:OFFSET` (Linux: `this_cpu_read(var)`). The run queue
 * (Linux `struct rq`) is embedded in the area.
 */
export const PERCPU_SHIFT = 10;
export const PERCPU_STRIDE = 1 << PERCPU_SHIFT; // 1 KiB
export const PERCPU_AREA_SYMBOL = 'per_cpu_area';

export const PCPU = {
  /** u64: address of this area (Linux `this_cpu_off`): turns a %gs offset into a pointer. */
  this_cpu_off: 0x00,
  /** u32: this CPU's number (Linux `cpu_number`). */
  cpu_number: 0x08,
  /** u32: 1 once the CPU has finished booting and runs its idle loop. */
  online: 0x0c,
  /** u32: preemption disabled while non-zero: +1 per held spin lock, +HARDIRQ_OFFSET in irq context. */
  preempt_count: 0x10,
  /** u32: set when this CPU should call schedule() at the next opportunity (Linux TIF_NEED_RESCHED). */
  need_resched: 0x14,
  /** u64: task_struct * running on this CPU (Linux `current_task`). */
  current_task: 0x18,
  /** u64: this CPU's idle task (Linux `rq->idle`), shown by kgdb as the shadow thread -cpu-2. */
  idle_task: 0x20,
  /** u64: timer interrupts taken (Linux `irq_stat.apic_timer_irqs`). */
  apic_timer_irqs: 0x28,
  /** u64: context switches done on this CPU (Linux `rq->nr_switches`). */
  nr_switches: 0x30,
  /** u64: tasks that came to this CPU from another one (wakeup placement or idle pull). */
  nr_migrations: 0x38,

  // struct rq (embedded): protected by rq_lock, always taken with interrupts off
  /** u32 spinlock: 0 free, else owner cpu + 1. */
  rq_lock: 0x40,
  /** u32: tasks queued on this run queue (not counting the one running). */
  rq_nr_running: 0x44,
  /** struct list_head: queue of runnable tasks, linked through task_struct.run_list. */
  rq_queue: 0x48, // next at +0x48, prev at +0x50

  // hardware breakpoint slot accounting (kernel/hw_breakpoint.c, seed 001 patch 2)
  /** atomic u32: free slots for the debugger on this CPU, HBP_NUM at boot (atomic_add_negative(-1) to reserve). */
  dbg_slots_pinned: 0x80,
  /** u32: slots pinned by perf on this CPU (under nr_bp_mutex). */
  nr_cpu_bp_pinned: 0x84,
  /** u32: flexible breakpoints on this CPU. */
  nr_bp_flexible: 0x88,
  /** u32[HBP_NUM]: per-task pinned counts. */
  nr_task_bp_pinned: 0x90,
  /** u64: DR7 value this CPU should run with (Linux `cpu_dr7`): perf's and the debugger's enable bits. */
  cpu_dr7: 0xa0,
  /**
   * u32[HBP_NUM]: who owns each debug-register slot on this CPU (Linux `bp_per_reg`, here an owner id:
   * HBP_OWNER.*). Claimed with `lock cmpxchg` 0 → owner, so the debugger (at resume) and perf's
   * install IPI can never both take one slot (issue 4, src/kernel/hw_breakpoint.ts).
   */
  bp_per_reg: 0xa8,

  // softlockup detector (kernel/softlockup.c, seed 001 patch 4)
  /** u64: last time the softlockup watchdog was touched (seconds of sched clock). */
  softlockup_touch_ts: 0xc0,
  /** u64: when the last soft lockup was reported. */
  softlockup_print_ts: 0xc8,
  /** u32 bool: next tick must call sched_clock_tick() before re-arming (touch_softlockup_watchdog_sync). */
  softlock_touch_sync: 0xd0,
  /**
   * u32 bool (issue 5): the tick "woke the watchdog": the next schedule() on this CPU touches
   * softlockup_touch_ts (this kernel's equivalent of Linux's watchdog/N thread; src/kernel/softlockup.ts).
   */
  softlockup_wake: 0xd4,
  /** u64: the task that last got this CPU through schedule() when the watchdog was due (Linux: the watchdog task). */
  softlockup_watchdog: 0xd8,
  /** u64: sched_clock at the last tick (ns). */
  sched_clock_tick_ns: 0xe0,
  /** 0x100..PERCPU_STRIDE: reserved for later subsystems. */
  reserved: 0x100,
} as const;

// ---------------------------------------------------------------- tasks

/**
 * struct task_struct (TASK_STRUCT_SIZE bytes). Kernel threads live in
 * `task_table[0 .. nr_tasks)` with pid = index + 1; the idle tasks live in
 * `idle_tasks[cpu]` with pid 0 ("swapper/N") and are never on a run queue.
 */
export const TASK_STRUCT_SHIFT = 8;
export const TASK_STRUCT_SIZE = 1 << TASK_STRUCT_SHIFT; // 256 (0x90..0x100 reserved)
export const TASK_COMM_LEN = 16;

export const TASK = {
  /** u64: TASK_RUNNING / TASK_INTERRUPTIBLE / TASK_UNINTERRUPTIBLE / TASK_DEAD / TASK_WAKING / TASK_NEW. */
  state: 0x00,
  /** u64: lowest address of the task's kernel stack (THREAD_SIZE bytes). */
  stack: 0x08,
  /** u64: saved rsp of a task that is not running: points at its struct inactive_task_frame. */
  thread_sp: 0x10,
  /** u32: thread id (0 for idle tasks). */
  pid: 0x18,
  /** u32: CPU the task runs on, or last ran on / is queued on. */
  cpu: 0x1c,
  /** struct list_head run_list: linkage in a run queue (next, prev). */
  run_list: 0x20,
  /** u64: jiffies value at which a sleeping task (msleep) is woken. */
  wake_jiffies: 0x30,
  /** u32: 1 while queued on a run queue. */
  on_rq: 0x38,
  /** u32: PF_* flags. */
  flags: 0x3c,
  /** char[16]: NUL-terminated name (Linux `comm`). */
  comm: 0x40,
  /** u64: voluntary context switches (the task slept). */
  nvcsw: 0x50,
  /** u64: involuntary context switches (the task was preempted). */
  nivcsw: 0x58,
  /** u64: ticks this task was running when the timer fired. */
  stime: 0x60,
  /** u32: ticks left in the current time slice. */
  time_slice: 0x68,
  /** u32: times the task moved to another CPU (woken elsewhere, or pulled by an idle CPU). */
  nr_migrations: 0x6c,
  /** u64: thread function and its argument (kernel threads). */
  thread_fn: 0x70,
  thread_arg: 0x78,
  /** u64: times the task was switched in (Linux sched_info.pcount). */
  pcount: 0x80,
  /** u64: jiffies when it was last switched in (Linux sched_info.last_arrival). */
  last_arrival: 0x88,
} as const;

export const TASK_RUNNING = 0;
export const TASK_INTERRUPTIBLE = 1;
export const TASK_UNINTERRUPTIBLE = 2;
export const TASK_DEAD = 0x40;
/** Claimed by a waker (wake_up_process), about to be queued. */
export const TASK_WAKING = 0x200;
/** Created by kernel_thread(), not yet woken for the first time. */
export const TASK_NEW = 0x800;

export const PF_IDLE = 0x2;
export const PF_KTHREAD = 0x00200000;

/**
 * struct inactive_task_frame: what __switch_to leaves at task->thread_sp when
 * a task is switched out (the same order as Linux). `ret_addr` is where the
 * task resumes: inside schedule() (right after its call to __switch_to), or
 * ret_from_fork for a task that has never run. So a sleeping task's
 * registers are: rip = ret_addr, rsp = thread_sp + INACTIVE_FRAME.size,
 * rbp = bp, rbx/r12-r15 as saved (kgdb on Linux reports rip 0 and rsp = thread_sp).
 */
export const INACTIVE_FRAME = {
  r15: 0,
  r14: 8,
  r13: 16,
  r12: 24,
  bx: 32,
  bp: 40,
  ret_addr: 48,
  size: 56,
} as const;

/**
 * struct pt_regs as the interrupt and exception entry stubs build it (Linux's
 * fields, with bp moved next to ip so that [bp, ip] form a frame record and
 * gdb unwinds from a handler into the interrupted function with frame
 * pointers alone). The stubs call the handler with rdi = &pt_regs.
 */
export const PT_REGS = {
  r15: 0, r14: 8, r13: 16, r12: 24, r11: 32, r10: 40, r9: 48, r8: 56,
  bx: 64, ax: 72, cx: 80, dx: 88, si: 96, di: 104,
  /** error code of the exception, -1 for exceptions without one, ~vector for interrupts. */
  orig_ax: 112,
  bp: 120,
  // the hardware interrupt frame
  ip: 128, cs: 136, flags: 144, sp: 152, ss: 160,
  size: 168,
} as const;

// ---------------------------------------------------------------- vectors

export const VECTOR = {
  DIVIDE_ERROR: 0,
  DEBUG: 1,
  NMI: 2,
  INT3: 3,
  INVALID_OP: 6,
  DOUBLE_FAULT: 8,
  GENERAL_PROTECTION: 13,
  PAGE_FAULT: 14,
  /** LOCAL_TIMER_VECTOR: the per-CPU APIC timer, HZ times a second. */
  LOCAL_TIMER: 0x20,
  /** RESCHEDULE_VECTOR: another CPU woke a task for us. */
  RESCHEDULE: 0xf0,
  /** CALL_FUNCTION_VECTOR: run a function on this CPU (perf installs breakpoints this way, later). */
  CALL_FUNCTION: 0xf1,
  SPURIOUS: 0xff,
} as const;

export const KERNEL_CS = 0x10;
export const KERNEL_DS = 0x18;

// ---------------------------------------------------------------- MSRs

export const MSR = {
  GS_BASE: 0xc0000101,
  APIC_ID: 0x802,
  APIC_EOI: 0x80b,
  APIC_ICR: 0x830,
  APIC_LVT_TIMER: 0x832,
  APIC_TMICT: 0x838,
  APIC_TMCCT: 0x839,
  APIC_TDCR: 0x83e,
  SIM_HPET: 0x4b560001,
} as const;
export const APIC_LVT_PERIODIC = 1 << 17;
export const APIC_TDCR_DIV_1 = 0xb;

// ---------------------------------------------------------------- symbols

/** Symbols the debug core and tools read (see docs/kernel.md). */
export const SYM = {
  perCpuArea: 'per_cpu_area', // + cpu * PERCPU_STRIDE
  nrCpuIds: 'nr_cpu_ids', // u32: CPUs booted by the machine
  taskTable: 'task_table', // struct task_struct[NR_TASKS]
  nrTasks: 'nr_tasks', // u32: used entries of task_table
  idleTasks: 'idle_tasks', // struct task_struct[NR_CPUS], idle_tasks[cpu]
  jiffies: 'jiffies', // u64
  counterValue: 'counter_value', // u64
  logBuf: 'log_buf', // char[LOG_BUF_LEN]
  logBufLen: 'log_buf_len', // u32 = LOG_BUF_LEN
  logEnd: 'log_end', // u64: total characters ever written; next one goes to log_buf[log_end % LOG_BUF_LEN]
  nrRunning: 'nr_running', // u32: tasks queued on all run queues
  panicCpu: 'panic_cpu', // s32: -1, or the CPU that called panic()
  kgdbBreakpoint: 'kgdb_breakpoint',
} as const;
