// The IDT and the C halves of the exception/interrupt handlers (Linux
// arch/x86/kernel/idt.c, traps.c, smp.c).
//
// int3, #DB and NMI are normally claimed by the debug core before the IDT
// sees them (kgdb's die notifier); these handlers are what runs when no
// debugger wants the event. A fault the kernel cannot handle panics.

import { eax, edi, esi, rax, rbp, rcx, rdi, rdx, rsi, cr2, dword, qword } from './asm.js';
import { cstring, fn, gsd, lidt, type Sections } from './kbuild.js';
import { IDT_GATES } from './entry.js';
import { KERNEL_CS, PCPU, PT_REGS } from './layout.js';

const GATE_INTERRUPT = 0x8e; // present, DPL 0, 64-bit interrupt gate (clears IF)
const X86_EFLAGS_TF = 0x100;

export function emitTraps(k: Sections): void {
  const a = k.text;

  // The IDT, shared by all CPUs, and the descriptor lidt loads.
  k.bss.align(4096);
  k.bss.object('idt_table', 256 * 16);
  k.data.align(16);
  k.data.object('idt_descr', 0, () => {
    k.data.word(256 * 16 - 1);
    k.data.quad(k.data.addr('idt_table'));
  });

  cstring(k, 'divide_error_msg', 'divide error at ip %lx\n');
  cstring(k, 'invalid_op_msg', 'invalid opcode at ip %lx\n');
  cstring(k, 'double_fault_msg', 'double fault at ip %lx\n');
  cstring(k, 'general_protection_msg', 'general protection fault, error %lx, ip %lx\n');
  cstring(k, 'page_fault_msg', 'BUG: unable to handle page fault for address %lx, ip %lx, error %lx\n');

  // void set_intr_gate(unsigned int vector, void *handler)
  fn(a, 'set_intr_gate', () => {
    a.mov(edi, edi); // zero-extend the vector
    a.shl(rdi, 4);
    a.lea(rax, qword('idt_table'));
    a.add(rdi, rax); // &idt_table[vector]
    a.mov(eax, esi); // offset 15:0 | selector << 16
    a.and(eax, 0xffff);
    a.or(eax, KERNEL_CS << 16);
    a.mov(dword(rdi, 0), eax);
    a.mov(eax, esi); // offset 31:16 << 16 | P DPL type << 8
    a.and(eax, 0xffff0000);
    a.or(eax, GATE_INTERRUPT << 8);
    a.mov(dword(rdi, 4), eax);
    a.mov(rax, rsi); // offset 63:32, then 32 reserved bits
    a.shr(rax, 32);
    a.mov(qword(rdi, 8), rax);
    a.pop(rbp);
    a.ret();
  });

  // void trap_init(void): fill the IDT (boot CPU, before the others start)
  fn(a, 'trap_init', () => {
    for (const [vector, stub] of IDT_GATES) {
      a.mov(edi, vector);
      a.lea(rsi, qword(stub));
      a.call('set_intr_gate');
    }
    a.pop(rbp);
    a.ret();
  });

  // void load_idt(void): this CPU's IDTR points at idt_table
  fn(a, 'load_idt', () => {
    a.lea(rax, qword('idt_descr'));
    lidt(a, rax);
    a.pop(rbp);
    a.ret();
  });

  // --- handlers: rdi = struct pt_regs *, rsi = error code where there is one

  const panicWith = (name: string, msg: string, args: () => void): void => {
    fn(a, name, () => {
      args();
      a.lea(rdi, qword(msg));
      a.call('panic');
      a.ud2(); // panic() does not return (and the return address stays inside this function)
    });
  };
  panicWith('do_divide_error', 'divide_error_msg', () => a.mov(rsi, qword(rdi, PT_REGS.ip)));
  panicWith('do_invalid_op', 'invalid_op_msg', () => a.mov(rsi, qword(rdi, PT_REGS.ip)));
  panicWith('do_double_fault', 'double_fault_msg', () => a.mov(rsi, qword(rdi, PT_REGS.ip)));
  panicWith('do_general_protection', 'general_protection_msg', () => a.mov(rdx, qword(rdi, PT_REGS.ip))); // rsi = error code
  panicWith('do_page_fault', 'page_fault_msg', () => {
    a.mov(rcx, rsi); // error code
    a.mov(rax, cr2); // the faulting address
    a.mov(rsi, rax);
    a.mov(rdx, qword(rdi, PT_REGS.ip));
  });

  // do_int3: no debugger claimed the breakpoint: carry on after the int3.
  fn(a, 'do_int3', () => {
    a.pop(rbp);
    a.ret();
  });

  // do_debug: no debugger claimed this #DB. Hardware-breakpoint hits go to their
  // owner (perf, issue 4: hw_breakpoint.ts); then drop single-stepping so we do not trap forever.
  fn(a, 'do_debug', () => {
    a.push(rdi);
    a.call('hw_breakpoint_handler');
    a.pop(rdi);
    a.and(qword(rdi, PT_REGS.flags), ~X86_EFLAGS_TF);
    a.pop(rbp);
    a.ret();
  });

  // do_nmi: nothing to do without a debugger (or watchdog) claiming it.
  fn(a, 'do_nmi', () => {
    a.pop(rbp);
    a.ret();
  });

  // smp_reschedule_interrupt: another CPU queued a task here (scheduler_ipi)
  fn(a, 'smp_reschedule_interrupt', () => {
    a.call('ack_APIC_irq');
    a.mov(gsd(PCPU.need_resched), 1);
    a.pop(rbp);
    a.ret();
  });

  // smp_call_function_interrupt: run the on_each_cpu() function (perf's breakpoint IPIs, issue 4)
  fn(a, 'smp_call_function_interrupt', () => {
    a.call('ack_APIC_irq');
    a.call('generic_smp_call_function_interrupt');
    a.pop(rbp);
    a.ret();
  });

  // smp_spurious_interrupt: no EOI for spurious vectors
  fn(a, 'smp_spurious_interrupt', () => {
    a.pop(rbp);
    a.ret();
  });
}
