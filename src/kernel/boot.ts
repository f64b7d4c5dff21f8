// Boot (Linux arch/x86/kernel/head_64.S, head64.c, init/main.c,
// arch/x86/kernel/smpboot.c, mm/percpu.c).
//
// The machine starts every CPU at startup_64 at once, with rdi = its CPU
// number and rsi = the number of CPUs, no stack and interrupts off. Each CPU
// takes its idle task's stack and points its GS base at its per-CPU area.
// CPU 0 (the boot CPU) then does the global setup in start_kernel while
// the others wait in start_secondary until it says go (smp_boot_go, the
// counterpart of Linux's INIT/SIPI bring-up). Finally every CPU loads the
// IDT, starts its APIC timer and becomes its idle task (cpu_idle).

import {
  ebp, ecx, edi, esi, r8, rax, rbp, rcx, rdi, rdx, rsp, dword, qword,
} from './asm.js';
import { cstring, fn, gsd, type Sections } from './kbuild.js';
import {
  HBP_NUM, MSR, NR_CPUS, PCPU, PERCPU_SHIFT, PERCPU_STRIDE, TASK_STRUCT_SIZE, THREAD_SHIFT, THREAD_SIZE,
} from './layout.js';

export function emitBoot(k: Sections): void {
  const a = k.text;

  k.bss.align(4096);
  k.bss.object('per_cpu_area', NR_CPUS * PERCPU_STRIDE);
  k.data.align(4);
  k.data.object('nr_cpu_ids', 4); // CPUs the machine started (Linux nr_cpu_ids)
  k.data.object('smp_boot_go', 4); // set by CPU 0 when the others may finish booting
  k.data.object('nr_online_cpus', 4); // CPUs that reached their idle loop
  cstring(k, 'linux_banner', 'Linux version 2.6.33-kgdb-sim (kgdb-sim) SMP, %d CPUs\n');
  cstring(k, 'cpu_online_msg', 'CPU%d: online\n');

  // startup_64: every CPU's first instruction. No stack yet, so no frame:
  // set up the stack, push a zero return address (where gdb's backtrace
  // ends) and clear rbp (the end of the frame-pointer chain).
  a.func('startup_64', () => {
    a.lea(rax, qword('idle_stacks'));
    a.mov(rcx, rdi);
    a.shl(rcx, THREAD_SHIFT);
    a.lea(rsp, qword({ base: rax, index: rcx, disp: THREAD_SIZE })); // top of idle_stacks[cpu]
    a.push(0);
    a.xor(ebp, ebp);
    // GS base = &per_cpu_area[cpu]: from now on %gs:X is this CPU's X
    a.lea(rax, qword('per_cpu_area'));
    a.mov(rcx, rdi);
    a.shl(rcx, PERCPU_SHIFT);
    a.add(rax, rcx);
    a.mov(rdx, rax);
    a.shr(rdx, 32);
    a.mov(ecx, MSR.GS_BASE);
    a.wrmsr();
    a.test(edi, edi);
    a.j('ne', '.secondary');
    a.mov(edi, esi);
    a.call('start_kernel');
    a.jmp('.dead');
    a.label('.secondary');
    a.call('start_secondary');
    a.label('.dead');
    a.cli();
    a.hlt();
    a.jmp('.dead');
  });

  // void setup_per_cpu_areas(unsigned int nr_cpus): initialise every
  // booted CPU's area (done once by CPU 0, before the others use theirs).
  fn(a, 'setup_per_cpu_areas', () => {
    a.xor(ecx, ecx); // cpu
    a.lea(rdx, qword('per_cpu_area'));
    a.lea(r8, qword('idle_tasks'));
    a.label('.loop');
    a.cmp(ecx, edi);
    a.j('ae', '.done');
    a.mov(qword(rdx, PCPU.this_cpu_off), rdx);
    a.mov(dword(rdx, PCPU.cpu_number), ecx);
    a.mov(qword(rdx, PCPU.idle_task), r8);
    a.mov(qword(rdx, PCPU.current_task), r8); // each CPU boots as its idle task
    a.lea(rax, qword(rdx, PCPU.rq_queue)); // INIT_LIST_HEAD(&rq->queue)
    a.mov(qword(rax, 0), rax);
    a.mov(qword(rax, 8), rax);
    a.mov(dword(rdx, PCPU.dbg_slots_pinned), HBP_NUM); // ATOMIC_INIT(HBP_NUM)
    a.add(rdx, PERCPU_STRIDE);
    a.add(r8, TASK_STRUCT_SIZE);
    a.inc(ecx);
    a.jmp('.loop');
    a.label('.done');
    a.pop(rbp);
    a.ret();
  });

  // void start_kernel(unsigned int nr_cpus): the boot CPU's global setup
  fn(a, 'start_kernel', () => {
    a.mov(dword('nr_cpu_ids'), edi);
    a.call('setup_per_cpu_areas');
    a.call('trap_init');
    a.call('load_idt');
    a.lea(rdi, qword('linux_banner'));
    a.mov(esi, dword('nr_cpu_ids'));
    a.call('printk');
    a.call('kthreads_init'); // the demo kernel threads
    a.mov(dword('smp_boot_go'), 1); // release the other CPUs
    a.call('cpu_startup_entry');
    a.pop(rbp);
    a.ret();
  });

  // void start_secondary(int cpu): an application processor's boot
  fn(a, 'start_secondary', () => {
    a.label('.wait');
    a.cmp(dword('smp_boot_go'), 0);
    a.j('ne', '.go');
    a.pause();
    a.jmp('.wait');
    a.label('.go');
    a.call('load_idt');
    a.call('cpu_startup_entry');
    a.pop(rbp);
    a.ret();
  });

  // void cpu_startup_entry(void): the common end of boot: start the tick,
  // say hello, become the idle task
  fn(a, 'cpu_startup_entry', () => {
    a.call('setup_APIC_timer');
    a.mov(gsd(PCPU.online), 1);
    a.lock().inc(dword('nr_online_cpus'));
    a.lea(rdi, qword('cpu_online_msg'));
    a.mov(esi, gsd(PCPU.cpu_number));
    a.call('printk');
    a.call('cpu_idle');
    a.pop(rbp);
    a.ret();
  });
}
