// Small helpers shared by the kernel's source modules: the three sections
// every module emits into, per-CPU (%gs) operands, and the frame-pointer
// prologue every function starts with.

import { Asm, qword, dword, rbp, rsp, type Mem, type Reg } from './asm.js';

/** The sections a kernel module contributes to. */
export interface Sections {
  text: Asm;
  data: Asm;
  bss: Asm;
}

/** A qword in this CPU's per-CPU area: %gs:off (Linux this_cpu_read/this_cpu_write). */
export const gsq = (off: number): Mem => qword({ seg: 'gs', disp: off });
/** A dword in this CPU's per-CPU area. */
export const gsd = (off: number): Mem => dword({ seg: 'gs', disp: off });

/** `push rbp; mov rbp, rsp`: the frame-pointer prologue gdb's unwinder recognises. */
export function enter(a: Asm): void {
  a.push(rbp);
  a.mov(rbp, rsp);
}

/** A function with the standard prologue; the body supplies its own epilogue. */
export function fn(a: Asm, name: string, body: () => void): void {
  a.func(name, () => {
    enter(a);
    body();
  });
}

/** A NUL-terminated string object in .data. */
export function cstring(k: Sections, name: string, s: string): void {
  k.data.object(name, 0, () => k.data.ascii(s + '\0'));
}

/** lidt [reg]: load the IDT register from a 10-byte descriptor (limit16, base64). */
export function lidt(a: Asm, reg: Reg): void {
  a.lidt(qword(reg, 0));
}
