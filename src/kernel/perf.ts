// The in-kernel perf user of hardware breakpoints (think `perf record -e mem:ADDR:w -a`):
// a kernel thread that periodically registers a wide write watchpoint on
// `perf_bp_var`, writes it a few times, checks that its #DB handler counted
// exactly those writes, and unregisters. It keeps the four debug-register
// slots really contended while gdb uses them (issue 4).
//
// Knobs (plain kernel variables, settable from gdb with `set var`):
//   perf_bp_hold       non-zero: keep the watchpoint registered (sleep in a loop) until cleared
//   perf_bp_period_ms  sleep between cycles (default PERF_PERIOD_MS: a low duty cycle)
//   perf_bp_gap_ms     sleep between two writes (0: write back to back)
// Results: perf_bp_registered / perf_bp_failed (reservations that got ENOSPC),
//   perf_bp_hits (counted by the #DB handler), perf_bp_mismatch (cycles whose hits
//   differed from their writes: must stay 0), perf_bp_cycles.
// Markers for debuggers and tests: perf_bp_armed (just registered),
//   perf_bp_released (just unregistered), perf_bp_cycle_done (end of a cycle).

import { eax, edi, edx, r12, r12d, r13, rbp, rbx, rdi, rsi, qword, dword } from './asm.js';
import { cstring, fn, type Sections } from './kbuild.js';
import { HBP_OWNER } from './layout.js';
import { PERF_BP, X86_BREAKPOINT_LEN_8, X86_BREAKPOINT_WRITE } from './hw_breakpoint.js';

export const PERF_START_MS = 100;
export const PERF_PERIOD_MS = 450;
export const PERF_GAP_MS = 10;
export const PERF_WRITES = 4;

export const PERF_THREAD = { comm: 'perf_bp', fn: 'perf_bp_thread' } as const;

export function emitPerf(k: Sections): void {
  const a = k.text;
  const d = k.data;

  d.align(8);
  d.object('perf_bp_var', 8); // what perf watches
  // struct perf_bp perf_bp = { .addr = &perf_bp_var, .ctrl = W | LEN8, .owner = PERF }
  d.object('perf_bp', 0, () => {
    d.quad(d.addr('perf_bp_var'));
    d.long(X86_BREAKPOINT_WRITE | (X86_BREAKPOINT_LEN_8 << 2));
    d.long(HBP_OWNER.PERF);
    d.quad(0);
  });
  d.object('perf_bp_hits', 8);
  d.object('perf_bp_hold', 4);
  d.object('perf_bp_period_ms', 0, () => d.long(PERF_PERIOD_MS));
  d.object('perf_bp_gap_ms', 0, () => d.long(PERF_GAP_MS));
  d.object('perf_bp_registered', 4);
  d.object('perf_bp_failed', 4);
  d.object('perf_bp_mismatch', 4);
  d.object('perf_bp_cycles', 4);
  cstring(k, 'perf_bp_mismatch_msg', 'perf_bp: %lu hits for %d writes\n');

  // void perf_bp_event(void): the perf overflow handler of perf_bp (from the #DB handler).
  fn(a, 'perf_bp_event', () => {
    a.lock().inc(qword('perf_bp_hits'));
    a.lock().inc(qword('perf_bp', PERF_BP.hits));
    a.pop(rbp);
    a.ret();
  });

  // Empty marker functions (a place to put a breakpoint).
  for (const m of ['perf_bp_armed', 'perf_bp_released', 'perf_bp_cycle_done']) {
    fn(a, m, () => {
      a.pop(rbp);
      a.ret();
    });
  }

  // int perf_bp_thread(void *unused)
  fn(a, PERF_THREAD.fn, () => {
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.mov(edi, PERF_START_MS);
    a.call('msleep');
    a.label('.cycle');
    a.lea(rdi, qword('perf_bp'));
    a.call('register_wide_hw_breakpoint');
    a.test(eax, eax);
    a.j('e', '.registered');
    a.lock().inc(dword('perf_bp_failed'));
    a.jmp('.done');
    a.label('.registered');
    a.lock().inc(dword('perf_bp_registered'));
    a.call('perf_bp_armed');
    a.mov(rbx, qword('perf_bp_hits')); // hits before our writes
    a.mov(r12d, PERF_WRITES);
    a.label('.write');
    a.inc(qword('perf_bp_var')); // #DB trap → hw_breakpoint_handler → perf_bp_event
    a.mov(edi, dword('perf_bp_gap_ms'));
    a.test(edi, edi);
    a.j('e', '.nogap');
    a.call('msleep');
    a.label('.nogap');
    a.dec(r12d);
    a.j('ne', '.write');
    a.mov(r13, qword('perf_bp_hits'));
    a.sub(r13, rbx);
    a.cmp(r13, PERF_WRITES);
    a.j('e', '.hold');
    a.lock().inc(dword('perf_bp_mismatch'));
    a.lea(rdi, qword('perf_bp_mismatch_msg'));
    a.mov(rsi, r13);
    a.mov(edx, PERF_WRITES);
    a.call('printk');
    a.label('.hold');
    a.cmp(dword('perf_bp_hold'), 0);
    a.j('e', '.release');
    a.mov(edi, 50);
    a.call('msleep');
    a.jmp('.hold');
    a.label('.release');
    a.lea(rdi, qword('perf_bp'));
    a.call('unregister_wide_hw_breakpoint');
    a.call('perf_bp_released');
    a.label('.done');
    a.lock().inc(dword('perf_bp_cycles'));
    a.call('perf_bp_cycle_done');
    a.mov(edi, dword('perf_bp_period_ms'));
    a.call('msleep');
    a.jmp('.cycle');
  });

}
