// The thread model gdb sees, as Linux kgdb builds it (kernel/debug/gdbstub.c):
// every task is a thread whose id is its pid, wherever it runs, and every CPU
// also appears as a "shadow" thread standing for the CPU itself (its idle task
// and its live registers). A task that is on a CPU reports that CPU's live
// registers; a sleeping task reports the frame `__switch_to` saved.
//
// Thread ids in the modern wire mode are positive: tasks use their pid
// (1..PID_MAX-1) and CPU n's shadow thread is SHADOW_BASE + n. Linux kgdb
// instead numbers shadows -n-2; the kgdb wire profile maps them.

export const SHADOW_BASE = 0x8000; // PID_MAX_DEFAULT: above every pid the kernel hands out

export interface TaskView {
  pid: number;
  name: string;
  state: 'running' | 'runnable' | 'sleeping' | 'dead';
  /** CPU the task is current on, or -1 if it is not on any CPU. */
  onCpu: number;
  /** CPU whose run queue holds it (last CPU it ran on). */
  cpu: number;
  /** Saved switch frame of a task that is not on a CPU. */
  saved: { rsp: number; rbp: number; rip: number };
}

/** What the debug core needs to know about the running kernel (read from its memory). */
export interface KernelView {
  /** Every task except the per-CPU idle tasks, by pid. */
  tasks(): TaskView[];
  /** One task by pid (as tasks().find, without reading every task). */
  task(pid: number): TaskView | undefined;
  /** pid of the task current on a CPU, or 0 when it runs its idle task. */
  currentPid(cpu: number): number;
  /** The kernel log buffer as text. */
  dmesg(): string;
}

/**
 * How shadow threads are numbered. 'modern': SHADOW_BASE + cpu (positive ids).
 * 'linux': Linux kgdb's -cpu-2, as the unsigned 32-bit value the wire carries
 * (CPU0 = 0xfffffffe), for the exact kgdb wire profile.
 */
export type ShadowNumbering = 'modern' | 'linux';

export function isShadow(tid: number, ncpus: number, numbering: ShadowNumbering = 'modern'): boolean {
  if (numbering === 'linux') return tid <= 0xfffffffe && tid > 0xfffffffe - ncpus;
  return tid >= SHADOW_BASE && tid < SHADOW_BASE + ncpus;
}

export function shadowOf(cpu: number, numbering: ShadowNumbering = 'modern'): number {
  return numbering === 'linux' ? 0xfffffffe - cpu : SHADOW_BASE + cpu;
}

export function cpuOfShadow(tid: number, numbering: ShadowNumbering = 'modern'): number {
  return numbering === 'linux' ? 0xfffffffe - tid : tid - SHADOW_BASE;
}

/** What a thread id stands for right now. */
export type ThreadRef =
  | { kind: 'cpu'; cpu: number; task?: TaskView } // live registers of a CPU
  | { kind: 'sleeping'; task: TaskView };

export function resolveThread(
  tid: number,
  ncpus: number,
  view: KernelView,
  numbering: ShadowNumbering = 'modern',
): ThreadRef | undefined {
  if (isShadow(tid, ncpus, numbering)) return { kind: 'cpu', cpu: cpuOfShadow(tid, numbering) };
  if (tid <= 0 || tid >= SHADOW_BASE) return undefined;
  const task = view.task(tid);
  if (task === undefined || task.state === 'dead') return undefined;
  if (task.onCpu >= 0) return { kind: 'cpu', cpu: task.onCpu, task };
  return { kind: 'sleeping', task };
}

/** The thread gdb should see as having stopped on a CPU. */
export function threadOfCpu(cpu: number, view: KernelView, numbering: ShadowNumbering = 'modern'): number {
  const pid = view.currentPid(cpu);
  return pid > 0 ? pid : shadowOf(cpu, numbering);
}
