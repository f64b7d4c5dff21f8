// Reading the simulated kernel's state out of guest memory, by the layout the
// kernel is built against (src/kernel/layout.ts) — what Linux kgdb gets from
// for_each_process() and the per-CPU `current_task`.

import {
  INACTIVE_FRAME, LOG_BUF_LEN, PCPU, PERCPU_STRIDE, SYM, TASK, TASK_COMM_LEN, TASK_DEAD, TASK_RUNNING,
  TASK_STRUCT_SIZE,
} from '../kernel/layout.js';
import { symbolAddr, type Image } from '../kernel/link.js';
import type { Memory } from '../target/memory.js';
import { canon } from '../system.js';
import type { KernelView, TaskView } from './threads.js';

export class MemoryKernelView implements KernelView {
  private readonly perCpu: number;
  private readonly taskTable: number;
  private readonly nrTasks: number;
  private readonly logBuf: number;
  private readonly logEnd: number;

  constructor(
    private readonly mem: Memory,
    image: Image,
    private readonly ncpus: number,
  ) {
    const s = (n: string): number => canon(symbolAddr(image, n));
    this.perCpu = s(SYM.perCpuArea);
    this.taskTable = s(SYM.taskTable);
    this.nrTasks = s(SYM.nrTasks);
    this.logBuf = s(SYM.logBuf);
    this.logEnd = s(SYM.logEnd);
  }

  private u32(a: number): number {
    return this.mem.peekU32(a) ?? 0;
  }

  private u64(a: number): number {
    const v = this.mem.peek64(a);
    return v === undefined ? 0 : Number(BigInt.asIntN(64, v));
  }

  percpu(cpu: number, field: number): number {
    return this.perCpu + cpu * PERCPU_STRIDE + field;
  }

  currentPid(cpu: number): number {
    const t = this.u64(this.percpu(cpu, PCPU.current_task));
    if (t === 0) return 0;
    return this.u32(t + TASK.pid);
  }

  tasks(): TaskView[] {
    const onCpu = this.onCpu();
    const out: TaskView[] = [];
    for (let i = 0, n = this.taskCount(); i < n; i++) {
      const t = this.taskTable + i * TASK_STRUCT_SIZE;
      const pid = this.u32(t + TASK.pid);
      if (pid !== 0) out.push(this.taskAt(t, pid, onCpu));
    }
    return out;
  }

  task(pid: number): TaskView | undefined {
    // Called on every resume and register read: read one pid per slot, build one view.
    for (let i = 0, n = this.taskCount(); i < n; i++) {
      const t = this.taskTable + i * TASK_STRUCT_SIZE;
      if (this.u32(t + TASK.pid) === pid) return this.taskAt(t, pid, this.onCpu());
    }
    return undefined;
  }

  private taskCount(): number {
    return Math.min(this.u32(this.nrTasks), 64);
  }

  /** task_struct address → the CPU it is current on. */
  private onCpu(): Map<number, number> {
    const onCpu = new Map<number, number>();
    for (let c = 0; c < this.ncpus; c++) onCpu.set(this.u64(this.percpu(c, PCPU.current_task)), c);
    return onCpu;
  }

  private taskAt(t: number, pid: number, onCpu: Map<number, number>): TaskView {
    const stateRaw = this.u64(t + TASK.state);
    const cpuNow = onCpu.get(t) ?? -1;
    const comm = this.mem.peek(t + TASK.comm, TASK_COMM_LEN) ?? new Uint8Array(0);
    const nul = comm.indexOf(0);
    const name = Buffer.from(comm.subarray(0, nul < 0 ? comm.length : nul)).toString('latin1');
    const state: TaskView['state'] =
      stateRaw & TASK_DEAD ? 'dead' : cpuNow >= 0 ? 'running' : stateRaw === TASK_RUNNING ? 'runnable' : 'sleeping';
    const sp = this.u64(t + TASK.thread_sp);
    return {
      pid,
      name,
      state,
      onCpu: cpuNow,
      cpu: this.u32(t + TASK.cpu),
      saved: {
        rsp: sp === 0 ? 0 : sp + INACTIVE_FRAME.size,
        rbp: sp === 0 ? 0 : this.u64(sp + INACTIVE_FRAME.bp),
        rip: sp === 0 ? 0 : this.u64(sp + INACTIVE_FRAME.ret_addr),
      },
    };
  }

  dmesg(): string {
    const end = this.u64(this.logEnd);
    const start = Math.max(0, end - LOG_BUF_LEN);
    const bytes: number[] = [];
    const buf = this.mem.peek(this.logBuf, LOG_BUF_LEN);
    if (buf === undefined) return '';
    for (let i = start; i < end; i++) bytes.push(buf[i % LOG_BUF_LEN]);
    return Buffer.from(bytes).toString('latin1');
  }

  /** Per-CPU field reader for tools (run --json, monitors). */
  percpuU64(cpu: number, field: number): number {
    return this.u64(this.percpu(cpu, field));
  }

  percpuU32(cpu: number, field: number): number {
    return this.u32(this.percpu(cpu, field));
  }

  symbolU64(addr: number): number {
    return this.u64(addr);
  }
}
