// Interrupt and exception entry stubs (Linux arch/x86/entry/entry_64.S).
//
// The CPU enters a stub with the hardware interrupt frame (ip, cs, flags,
// sp, ss; plus an error code for some exceptions) on the stack. Each stub
// saves every general register into a struct pt_regs (layout.ts PT_REGS),
// calls its handler with rdi = &pt_regs (and rsi = error code), and on the
// way out preempts the interrupted task if it may be preempted and someone
// asked for it, then restores everything and returns with iretq.
//
// Frame pointers: the stub starts with `push rbp; mov rbp, rsp`, right on
// top of the hardware frame, so [rbp] = interrupted rbp and [rbp+8] =
// interrupted rip: a normal frame record. gdb (which knows nothing about
// pt_regs) unwinds from the handler through the stub into the interrupted
// function with frame pointers alone — `bt` in the timer handler shows the
// task that was running. This is the trick from seed 003 (Lutomirski,
// Poimboeuf): give the entry a frame the unwinder can read.

import {
  r10, r11, r12, r13, r14, r15, r8, r9, rax, rbp, rbx, rcx, rdi, rdx, rsi, rsp, dword, qword, type Asm,
} from './asm.js';
import { gsd, type Sections } from './kbuild.js';
import { PCPU, PT_REGS, VECTOR } from './layout.js';

const X86_EFLAGS_IF = 0x200;

interface EntryOpts {
  /** The CPU pushed an error code (#DF, #GP, #PF). */
  errorCode?: boolean;
  /** Value stored in pt_regs.orig_ax when there is no error code. */
  origAx?: number;
  /** An interrupt after which the interrupted task may be preempted. */
  preempt?: boolean;
}

function pushRegs(a: Asm): void {
  for (const r of [rdi, rsi, rdx, rcx, rax, rbx, r8, r9, r10, r11, r12, r13, r14, r15]) a.push(r);
}
function popRegs(a: Asm): void {
  for (const r of [r15, r14, r13, r12, r11, r10, r9, r8, rbx, rax, rcx, rdx, rsi, rdi]) a.pop(r);
}

function idtentry(a: Asm, name: string, handler: string, o: EntryOpts): void {
  a.func(name, () => {
    a.push(rbp);
    a.mov(rbp, rsp);
    if (o.errorCode) {
      // The error code sits between our frame record and the hardware frame.
      // Copy the hardware frame (ip..ss) below it and make a fresh frame
      // record on top, so that [rbp+8] is the interrupted rip again; iretq
      // uses the copy (it reloads rsp from it, abandoning the original).
      for (const off of [48, 40, 32, 24, 16]) a.push(qword(rbp, off)); // ss sp flags cs ip
      a.push(qword(rbp, 0)); // interrupted rbp
      a.mov(rbp, rsp);
      a.push(qword(rbp, 56)); // orig_ax = the error code
    } else {
      a.push(o.origAx ?? -1);
    }
    pushRegs(a);
    a.mov(rdi, rsp); // struct pt_regs *
    if (o.errorCode) a.mov(rsi, qword(rsp, PT_REGS.orig_ax));
    a.call(handler);
    if (o.preempt) {
      // retint_kernel: preempt if interrupts were on in the interrupted
      // context, nothing disabled preemption, and a reschedule is due.
      a.test(dword(rsp, PT_REGS.flags), X86_EFLAGS_IF);
      a.j('e', '.restore');
      a.cmp(gsd(PCPU.preempt_count), 0);
      a.j('ne', '.restore');
      a.cmp(gsd(PCPU.need_resched), 0);
      a.j('e', '.restore');
      a.call('preempt_schedule_irq');
      a.label('.restore');
    }
    popRegs(a);
    a.add(rsp, 8); // orig_ax
    a.pop(rbp);
    a.iretq();
  });
}

export function emitEntry(k: Sections): void {
  const a = k.text;
  // exceptions
  idtentry(a, 'divide_error', 'do_divide_error', {});
  idtentry(a, 'debug', 'do_debug', {});
  idtentry(a, 'nmi', 'do_nmi', {});
  idtentry(a, 'int3', 'do_int3', {});
  idtentry(a, 'invalid_op', 'do_invalid_op', {});
  idtentry(a, 'double_fault', 'do_double_fault', { errorCode: true });
  idtentry(a, 'general_protection', 'do_general_protection', { errorCode: true });
  idtentry(a, 'page_fault', 'do_page_fault', { errorCode: true });
  // interrupts (orig_ax = ~vector, as Linux's irq entry stores it)
  idtentry(a, 'timer_interrupt', 'smp_apic_timer_interrupt', { origAx: ~VECTOR.LOCAL_TIMER, preempt: true });
  idtentry(a, 'reschedule_interrupt', 'smp_reschedule_interrupt', { origAx: ~VECTOR.RESCHEDULE, preempt: true });
  idtentry(a, 'call_function_interrupt', 'smp_call_function_interrupt', { origAx: ~VECTOR.CALL_FUNCTION, preempt: true });
  idtentry(a, 'spurious_interrupt', 'smp_spurious_interrupt', { origAx: ~VECTOR.SPURIOUS });
}

/** (vector, stub) pairs trap_init installs. */
export const IDT_GATES: readonly [number, string][] = [
  [VECTOR.DIVIDE_ERROR, 'divide_error'],
  [VECTOR.DEBUG, 'debug'],
  [VECTOR.NMI, 'nmi'],
  [VECTOR.INT3, 'int3'],
  [VECTOR.INVALID_OP, 'invalid_op'],
  [VECTOR.DOUBLE_FAULT, 'double_fault'],
  [VECTOR.GENERAL_PROTECTION, 'general_protection'],
  [VECTOR.PAGE_FAULT, 'page_fault'],
  [VECTOR.LOCAL_TIMER, 'timer_interrupt'],
  [VECTOR.RESCHEDULE, 'reschedule_interrupt'],
  [VECTOR.CALL_FUNCTION, 'call_function_interrupt'],
  [VECTOR.SPURIOUS, 'spurious_interrupt'],
];
