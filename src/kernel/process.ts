// Tasks and the CPU switch between them (Linux arch/x86/kernel/process_64.c,
// entry_64.S ret_from_fork, kernel/kthread.c, the idle loop).

import {
  eax, ebp, ebx, ecx, edx, dl, r12, r13, r14, r15, rax, rbp, rbx, rcx, rdi, rdx, rsi, rsp, byte, dword, qword,
} from './asm.js';
import { fn, gsd, gsq, type Sections } from './kbuild.js';
import {
  INACTIVE_FRAME, NR_TASKS, PCPU, PF_KTHREAD, SCHED_TIMESLICE, TASK, TASK_COMM_LEN, TASK_DEAD, TASK_NEW,
  TASK_STRUCT_SHIFT, THREAD_SHIFT, THREAD_SIZE,
} from './layout.js';

export function emitProcess(k: Sections): void {
  const a = k.text;

  // struct task_struct *__switch_to(prev /* rdi */, next /* rsi */)
  //
  // Save prev's callee-saved registers on its stack as a struct
  // inactive_task_frame, remember that stack pointer in prev->thread_sp,
  // load next's, pop its frame and return: into schedule() where next once
  // called us, or into ret_from_fork if next has never run. Returns prev.
  fn(a, '__switch_to', () => {
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.push(r14);
    a.push(r15);
    a.mov(qword(rdi, TASK.thread_sp), rsp);
    a.mov(rsp, qword(rsi, TASK.thread_sp)); // from here on we are on next's stack
    a.mov(gsq(PCPU.current_task), rsi); // this_cpu_write(current_task, next)
    a.pop(r15);
    a.pop(r14);
    a.pop(r13);
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.mov(rax, rdi);
    a.ret();
  });

  // ret_from_fork: where a new kernel thread starts (its first __switch_to
  // returns here). rbx = thread function, r12 = its argument, set up by
  // kernel_thread(). Finishes the switch, runs the function, and exits if
  // it ever returns. rbp is cleared right after the prologue: a frame whose
  // frame pointer is 0 is where gdb's unwinder stops ("outermost"), so a
  // thread's backtrace ends cleanly at ret_from_fork.
  fn(a, 'ret_from_fork', () => {
    a.xor(ebp, ebp);
    a.call('schedule_tail');
    a.mov(rdi, r12);
    a.call(rbx);
    a.mov(rdi, rax);
    a.call('do_exit');
    a.ud2();
  });

  // void do_exit(long code): the task is done; it is never queued again.
  fn(a, 'do_exit', () => {
    a.mov(rax, gsq(PCPU.current_task));
    a.mov(qword(rax, TASK.state), TASK_DEAD);
    a.call('schedule');
    a.ud2(); // a dead task is never switched back to
  });

  // struct task_struct *kernel_thread(int (*fn)(void *), void *arg, const char *name)
  //
  // Take the next free task_table slot (pid = slot + 1), give it a stack
  // whose top holds an inactive_task_frame that "returns" to ret_from_fork,
  // put it on CPU (pid - 1) % nr_cpu_ids and wake it. Returns NULL when the
  // table is full.
  fn(a, 'kernel_thread', () => {
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.push(r14);
    a.mov(r12, rdi); // fn
    a.mov(r13, rsi); // arg
    a.mov(r14, rdx); // name
    a.mov(eax, dword('nr_tasks'));
    a.cmp(eax, NR_TASKS);
    a.j('ae', '.full');
    a.mov(ebx, eax);
    a.shl(rbx, TASK_STRUCT_SHIFT);
    a.lea(rdx, qword('task_table'));
    a.add(rbx, rdx); // p = &task_table[nr_tasks]
    a.lea(ecx, qword(rax, 1));
    a.mov(dword(rbx, TASK.pid), ecx);
    a.mov(qword(rbx, TASK.state), TASK_NEW);
    a.mov(dword(rbx, TASK.flags), PF_KTHREAD);
    a.mov(dword(rbx, TASK.time_slice), SCHED_TIMESLICE);
    a.mov(qword(rbx, TASK.thread_fn), r12);
    a.mov(qword(rbx, TASK.thread_arg), r13);
    // strscpy(p->comm, name, TASK_COMM_LEN)
    a.xor(ecx, ecx);
    a.label('.copy');
    a.movzx(edx, byte({ base: r14, index: rcx }));
    a.mov(byte({ base: rbx, index: rcx, disp: TASK.comm }), dl);
    a.test(edx, edx);
    a.j('e', '.copied');
    a.inc(ecx);
    a.cmp(ecx, TASK_COMM_LEN - 1);
    a.j('b', '.copy');
    a.label('.copied');
    // the stack: task_stacks + slot * THREAD_SIZE
    a.mov(eax, dword('nr_tasks'));
    a.shl(rax, THREAD_SHIFT);
    a.lea(rdx, qword('task_stacks'));
    a.add(rax, rdx);
    a.mov(qword(rbx, TASK.stack), rax);
    a.lea(rdx, qword(rax, THREAD_SIZE - 8));
    a.mov(qword(rdx, 0), 0); // ret_from_fork's return address: 0 ends the backtrace
    a.sub(rdx, INACTIVE_FRAME.size);
    a.mov(qword(rdx, INACTIVE_FRAME.r15), 0);
    a.mov(qword(rdx, INACTIVE_FRAME.r14), 0);
    a.mov(qword(rdx, INACTIVE_FRAME.r13), 0);
    a.mov(qword(rdx, INACTIVE_FRAME.r12), r13); // arg
    a.mov(qword(rdx, INACTIVE_FRAME.bx), r12); // fn
    a.mov(qword(rdx, INACTIVE_FRAME.bp), 0); // no caller frame
    a.lea(rax, qword('ret_from_fork'));
    a.mov(qword(rdx, INACTIVE_FRAME.ret_addr), rax);
    a.mov(qword(rbx, TASK.thread_sp), rdx);
    // wake_up_new_task(): spread the threads over the CPUs
    a.mov(eax, dword(rbx, TASK.pid));
    a.dec(eax);
    a.xor(edx, edx);
    a.div(dword('nr_cpu_ids'));
    a.mov(dword(rbx, TASK.cpu), edx);
    a.inc(dword('nr_tasks')); // publish: the tick's sleeper scan reads nr_tasks
    a.mov(rdi, rbx);
    a.call('wake_up_process');
    a.mov(rax, rbx);
    a.jmp('.out');
    a.label('.full');
    a.xor(eax, eax);
    a.label('.out');
    a.pop(r14);
    a.pop(r13);
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });

  // void default_idle(void): wait for the next interrupt. `sti; hlt` as a
  // pair: sti enables interrupts only after the next instruction, so an
  // interrupt cannot slip in between the need_resched check and hlt.
  fn(a, 'default_idle', () => {
    a.sti();
    a.hlt();
    a.pop(rbp);
    a.ret();
  });

  // void cpu_idle(void): the idle task's loop, each CPU's last boot step.
  // Runs schedule() whenever the tick or a wakeup set need_resched,
  // otherwise halts until the next interrupt.
  fn(a, 'cpu_idle', () => {
    a.label('.loop');
    a.cli();
    a.cmp(gsd(PCPU.need_resched), 0);
    a.j('ne', '.resched');
    a.call('default_idle');
    a.jmp('.loop');
    a.label('.resched');
    a.call('schedule');
    a.jmp('.loop');
  });
}
