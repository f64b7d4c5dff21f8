// panic() (Linux kernel/panic.c): the kernel cannot go on.
//
// Print "Kernel panic - not syncing: <message>", then hand the CPU to the
// debugger the way kgdb's panic notifier does (kgdb_breakpoint), and halt
// with interrupts off. Other CPUs are not stopped (Linux would stop them
// with an IPI; here the debugger's NMI roundup holds them instead).

import { eax, r8, r9, rcx, rdi, rdx, rsi, dword, qword } from './asm.js';
import { cstring, fn, gsd, type Sections } from './kbuild.js';
import { PCPU } from './layout.js';

export function emitPanic(k: Sections): void {
  const a = k.text;

  k.data.align(4);
  k.data.object('panic_cpu', 0, () => k.data.long(-1)); // atomic_t panic_cpu = PANIC_CPU_INVALID
  cstring(k, 'panic_banner', 'Kernel panic - not syncing: ');
  cstring(k, 'panic_end', '\n---[ end Kernel panic - not syncing ]---\n');

  // void panic(const char *fmt, ...) — never returns
  fn(a, 'panic', () => {
    a.cli();
    a.inc(gsd(PCPU.preempt_count)); // preempt_disable(): we never leave
    a.mov(eax, gsd(PCPU.cpu_number));
    a.mov(dword('panic_cpu'), eax);
    for (const r of [r9, r8, rcx, rdx, rsi, rdi]) a.push(r); // fmt and its arguments
    a.lea(rdi, qword('panic_banner'));
    a.call('printk');
    for (const r of [rdi, rsi, rdx, rcx, r8, r9]) a.pop(r);
    a.call('printk');
    a.lea(rdi, qword('panic_end'));
    a.call('printk');
    a.call('kgdb_breakpoint'); // kgdb_panic(): let the debugger look
    a.label('.halt');
    a.hlt(); // interrupts are off: only an NMI (debugger roundup) wakes us
    a.jmp('.halt');
  });
}
