// The kernel side of kgdb (Linux kernel/debug/debug_core.c,
// arch/x86/kernel/kgdb.c). The debug core itself is the simulator's
// src/kgdb/: it intercepts int3, #DB and the roundup NMI before the IDT,
// as kgdb does through the die notifier. What the kernel provides is the
// function that enters the debugger on purpose.

import { rbp } from './asm.js';
import { fn, type Sections } from './kbuild.js';

export function emitKgdb(k: Sections): void {
  const a = k.text;

  // void kgdb_breakpoint(void): trap into the debugger (sysrq-g, panic,
  // kgdbwait). The int3 leaves the trap rip just after itself, inside this
  // function, so `bt` in gdb starts here and shows who asked to break.
  fn(a, 'kgdb_breakpoint', () => {
    a.int3();
    a.pop(rbp);
    a.ret();
  });
}
