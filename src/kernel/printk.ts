// printk (Linux kernel/printk/printk.c, 2.6-era ring buffer).
//
// Messages go into log_buf, a LOG_BUF_LEN-byte ring: log_end counts every
// character ever written, and character i lives at log_buf[i % LOG_BUF_LEN].
// So the log is log_buf[0 .. log_end) while log_end <= LOG_BUF_LEN, and the
// LOG_BUF_LEN characters ending at log_end after it wrapped. logbuf_lock
// (taken with interrupts off, so printk works from interrupt context)
// keeps messages from different CPUs whole.
//
// Formats: %d %u %x %s %c and %%, with an optional l (%ld, %lx: all
// arguments are 64-bit anyway); at most five arguments (rsi rdx rcx r8 r9).

import {
  eax, ecx, edi, edx, esi, r12, r13, r14, r15, r15d, r8, r9, rax, rbp, rbx, rcx, rdi, rdx, rsi, rsp,
  byte, qword, dl, dil,
} from './asm.js';
import { fn, type Sections } from './kbuild.js';
import { LOG_BUF_LEN } from './layout.js';

export function emitPrintk(k: Sections): void {
  const a = k.text;

  k.bss.align(4096);
  k.bss.object('log_buf', LOG_BUF_LEN);
  k.data.align(8);
  k.data.object('log_end', 8);
  k.data.object('logged_chars', 8);
  k.data.object('log_buf_len', 0, () => k.data.long(LOG_BUF_LEN));
  k.data.object('logbuf_lock', 4);
  k.data.object('hex_asc', 0, () => k.data.ascii('0123456789abcdef'));

  // void emit_log_char(char c): append one character (logbuf_lock held).
  // Clobbers rax, rcx, rdx only.
  fn(a, 'emit_log_char', () => {
    a.mov(rax, qword('log_end'));
    a.mov(ecx, eax);
    a.and(ecx, LOG_BUF_LEN - 1);
    a.lea(rdx, qword('log_buf'));
    a.mov(byte({ base: rdx, index: rcx }), dil);
    a.inc(rax);
    a.mov(qword('log_end'), rax);
    a.cmp(qword('logged_chars'), LOG_BUF_LEN);
    a.j('ae', '.out');
    a.inc(qword('logged_chars'));
    a.label('.out');
    a.pop(rbp);
    a.ret();
  });

  // int emit_log_number(unsigned long value, int base, int is_signed):
  // the digits of value (Linux vsprintf's number()); returns characters written.
  fn(a, 'emit_log_number', () => {
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.push(r14);
    a.sub(rsp, 32); // digit buffer: [rbp-64, rbp-32)
    a.mov(rax, rdi);
    a.mov(r13, rsi); // base
    a.xor(r12, r12); // characters written
    a.test(edx, edx);
    a.j('e', '.digits');
    a.test(rax, rax);
    a.j('ns', '.digits');
    a.neg(rax);
    a.mov(rbx, rax);
    a.mov(edi, '-'.charCodeAt(0));
    a.call('emit_log_char');
    a.inc(r12);
    a.mov(rax, rbx);
    a.label('.digits');
    a.lea(rbx, qword(rbp, -32)); // digits are produced backwards from here
    a.lea(r14, qword('hex_asc'));
    a.label('.div');
    a.dec(rbx);
    a.xor(edx, edx);
    a.div(r13);
    a.movzx(edx, byte({ base: r14, index: rdx }));
    a.mov(byte(rbx, 0), dl);
    a.test(rax, rax);
    a.j('ne', '.div');
    a.label('.emit');
    a.movzx(edi, byte(rbx, 0));
    a.call('emit_log_char');
    a.inc(r12);
    a.inc(rbx);
    a.lea(rax, qword(rbp, -32));
    a.cmp(rbx, rax);
    a.j('b', '.emit');
    a.mov(rax, r12);
    a.add(rsp, 32);
    a.pop(r14);
    a.pop(r13);
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });

  // int printk(const char *fmt, ...): returns the number of characters logged
  fn(a, 'printk', () => {
    // the variadic arguments, in order, at [rbp-40 .. rbp-8]
    a.push(r9);
    a.push(r8);
    a.push(rcx);
    a.push(rdx);
    a.push(rsi);
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.push(r14);
    a.push(r15);
    a.mov(rbx, rdi); // fmt
    a.lea(r12, qword(rbp, -40)); // next argument
    a.lea(r13, qword(rbp, 0)); // end of the arguments
    a.lea(rdi, qword('logbuf_lock'));
    a.call('_raw_spin_lock_irqsave');
    a.mov(r14, rax); // saved flags
    a.xor(r15d, r15d); // characters written
    a.label('.next');
    a.movzx(eax, byte(rbx, 0));
    a.inc(rbx);
    a.test(eax, eax);
    a.j('e', '.done');
    a.cmp(eax, '%'.charCodeAt(0));
    a.j('ne', '.char');
    a.label('.conv');
    a.movzx(eax, byte(rbx, 0));
    a.inc(rbx);
    a.cmp(eax, 'l'.charCodeAt(0));
    a.j('e', '.conv'); // length modifier: every argument is 64-bit here
    a.test(eax, eax);
    a.j('e', '.done');
    a.cmp(eax, '%'.charCodeAt(0));
    a.j('e', '.char');
    // a conversion consumes an argument; past the fifth, print nothing
    a.cmp(r12, r13);
    a.j('ae', '.next');
    a.cmp(eax, 'd'.charCodeAt(0));
    a.j('e', '.signed');
    a.cmp(eax, 'u'.charCodeAt(0));
    a.j('e', '.unsigned');
    a.cmp(eax, 'x'.charCodeAt(0));
    a.j('e', '.hex');
    a.cmp(eax, 's'.charCodeAt(0));
    a.j('e', '.string');
    a.cmp(eax, 'c'.charCodeAt(0));
    a.j('ne', '.char'); // unknown conversion: print it as is
    a.mov(rax, qword(r12, 0));
    a.add(r12, 8);
    a.label('.char');
    a.mov(edi, eax);
    a.call('emit_log_char');
    a.inc(r15);
    a.jmp('.next');
    a.label('.signed');
    a.mov(edx, 1);
    a.mov(esi, 10);
    a.jmp('.number');
    a.label('.unsigned');
    a.xor(edx, edx);
    a.mov(esi, 10);
    a.jmp('.number');
    a.label('.hex');
    a.xor(edx, edx);
    a.mov(esi, 16);
    a.label('.number');
    a.mov(rdi, qword(r12, 0));
    a.add(r12, 8);
    a.call('emit_log_number');
    a.add(r15, rax);
    a.jmp('.next');
    a.label('.string');
    a.mov(rcx, qword(r12, 0));
    a.add(r12, 8);
    a.push(rcx); // (kept on the stack: emit_log_char clobbers rcx)
    a.label('.str_char');
    a.mov(rcx, qword(rsp, 0));
    a.movzx(edi, byte(rcx, 0));
    a.test(edi, edi);
    a.j('e', '.str_end');
    a.inc(qword(rsp, 0));
    a.call('emit_log_char');
    a.inc(r15);
    a.jmp('.str_char');
    a.label('.str_end');
    a.add(rsp, 8);
    a.jmp('.next');
    a.label('.done');
    a.lea(rdi, qword('logbuf_lock'));
    a.mov(rsi, r14);
    a.call('_raw_spin_unlock_irqrestore');
    a.mov(rax, r15);
    a.pop(r15);
    a.pop(r14);
    a.pop(r13);
    a.pop(r12);
    a.pop(rbx);
    a.leave();
    a.ret();
  });
}
