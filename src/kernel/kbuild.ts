// Small helpers shared by the kernel's source modules: the three sections
// every module emits into, per-CPU (%gs) operands, and the frame-pointer
// prologue every function starts with.

import { Asm, qword, dword, rbp, rsp, type Mem, type Reg } from './asm.js';
import { FORMS_BY_MNEMONIC } from '../target/x86/opcodes.js';

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
  if (FORMS_BY_MNEMONIC.has('lidt')) {
    a.insn('lidt', [qword(reg, 0)]);
    return;
  }
  // 0F 01 /3 with mod=00 and rm=reg (only the plain [reg] form: no SIB/disp registers)
  if (reg.n === 4 || reg.n === 5 || reg.n >= 8) throw new Error('lidt fallback supports [rax]..[rdi] except rsp/rbp');
  a.bytes([0x0f, 0x01, 0x18 | reg.n]);
}
