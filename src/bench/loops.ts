// The tight ALU loop the interpreter benchmark runs, once as simulated x86-64
// machine code and once natively on the host (same instructions, via gcc inline
// asm), so the report can give a ratio measured in the same run.

import { Asm, rax, rbx, rcx, rdx, rsi } from '../kernel/asm.js';
import { link, type Image } from '../kernel/link.js';

/** Iterations of the loop body per run; each iteration is LOOP_INSNS instructions. */
export const LOOP_INSNS = 6;

/** startup_64: rsi = iterations; loop { add rax,rbx; xor rcx,rax; inc rdx; sub rsi,1; ... jne }; hlt. */
export function tightLoopImage(iterations: number): Image {
  const a = new Asm();
  a.func('startup_64', () => {
    a.mov(rsi, iterations);
    a.mov(rbx, 0x12345);
    a.label('.loop');
    a.add(rax, rbx);
    a.xor(rcx, rax);
    a.inc(rdx);
    a.add(rbx, rcx);
    a.sub(rsi, 1);
    a.j('ne', '.loop');
    a.label('.done');
    a.hlt();
    a.jmp('.done');
  });
  return link([{ name: '.text', perms: 'rx', out: a.finish() }]);
}

/** The same loop for gcc. */
export const NATIVE_LOOP_C = `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  unsigned long a = 0, b = 0x12345, c = 0, d = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  __asm__ volatile(
    "1:\\n\\t"
    "add %[b], %[a]\\n\\t"
    "xor %[a], %[c]\\n\\t"
    "inc %[d]\\n\\t"
    "add %[c], %[b]\\n\\t"
    "sub $1, %[n]\\n\\t"
    "jne 1b\\n\\t"
    : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c), [d] "+r"(d), [n] "+r"(n) :: "cc");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%.9f %lu\\n", s, a ^ b ^ c ^ d);
  return 0;
}
`;
