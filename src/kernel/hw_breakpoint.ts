// Hardware-breakpoint slot accounting and installation, the perf side
// (Linux kernel/events/hw_breakpoint.c + arch/x86/kernel/hw_breakpoint.c,
// 2.6.33 with seed 001 patch 2 v2: the per-CPU `dbg_slots_pinned` counters).
//
// Two users share the four x86 debug-register slots of every CPU:
//   - perf (this file, kernel code): reserves under `nr_bp_mutex` and installs
//     by IPI on every CPU;
//   - the kernel debugger (src/hwbreak, host code): runs while the machine is
//     frozen — perhaps with a CPU frozen *inside* reserve_bp_slot holding
//     nr_bp_mutex — so it must never take or wait on that lock.
// The bridge is `dbg_slots_pinned` (PCPU 0x80), a per-CPU atomic counter of
// free slots initialised to HBP_NUM. Both sides reserve with
// atomic_add_negative(-1) (`lock dec` + `js`) on every CPU and roll back on
// failure; both release with `lock inc`. Whoever goes negative loses and
// undoes its own decrements: no lock, no waiting, no over-commit.
// docs/hwbreak.md tells the story.
//
// Slots on one CPU (PCPU.bp_per_reg[4], Linux bp_per_reg) are claimed with
// `lock cmpxchg 0 → owner`; DR7 is rebuilt from PCPU.cpu_dr7 (the bits perf
// and the debugger want) by set_debugreg7, a two-instruction restartable
// sequence: if the debugger freezes a CPU between its load and its `mov dr7`,
// it rewinds the CPU to the load on resume (symbols __dr7_reload_begin /
// __dr7_reload_commit), so a stale DR7 is never written.
//
// Register use: every function here follows the System V convention and
// saves what it uses beyond rax, rcx, rdx, rsi, rdi, r8-r11.

import {
  cl, eax, ebx, ecx, edi, edx, esi, r8d, r9, r9d, r12, r12d, r13, rax, rbp, rbx, rcx, rdi, rdx, rsi, dr0, dr1, dr2, dr3, dr6, dr7, dword, qword,
} from './asm.js';
import { fn, gsd, gsq, type Sections } from './kbuild.js';
import { HBP_NUM, HBP_OWNER, MSR, PCPU, PERCPU_SHIFT, PT_REGS, VECTOR } from './layout.js';

export const ENOSPC = 28;
export const EBUSY = 16;
/** DR7 RW/LEN nibble values (Intel SDM 17.2.4): RW in bits 0-1, LEN in bits 2-3. */
export const X86_BREAKPOINT_EXECUTE = 0, X86_BREAKPOINT_WRITE = 1, X86_BREAKPOINT_RW = 3;
export const X86_BREAKPOINT_LEN_1 = 0, X86_BREAKPOINT_LEN_2 = 1, X86_BREAKPOINT_LEN_4 = 3, X86_BREAKPOINT_LEN_8 = 2;
const X86_EFLAGS_RF = 0x10000;

/** struct perf_bp (a much-reduced struct perf_event for a breakpoint). */
export const PERF_BP = {
  /** u64: watched address. */
  addr: 0,
  /** u32: the DR7 RW/LEN nibble (type | len << 2). */
  ctrl: 8,
  /** u32: owner id stored in bp_per_reg (HBP_OWNER.PERF). */
  owner: 12,
  /** u64: hits counted by the perf #DB handler. */
  hits: 16,
  size: 24,
} as const;

/** Symbols (tests and src/hwbreak read these). */
export const HWBP_SYM = {
  nrBpMutex: 'nr_bp_mutex',
  reserve: 'reserve_bp_slot',
  release: 'release_bp_slot',
  dr7ReloadBegin: '__dr7_reload_begin',
  dr7ReloadCommit: '__dr7_reload_commit',
  installFailed: 'hw_bp_install_failed',
} as const;

/** rdx = &per_cpu_area[ecx] (clobbers rdx only). */
function pcpuOf(a: Sections['text']): void {
  a.mov(edx, ecx);
  a.shl(rdx, PERCPU_SHIFT);
  a.push(rcx);
  a.lea(rcx, qword('per_cpu_area'));
  a.add(rdx, rcx);
  a.pop(rcx);
}

export function emitHwBreakpoint(k: Sections): void {
  const a = k.text;

  k.data.align(8);
  // static DEFINE_MUTEX(nr_bp_mutex): a lock word (0 free, else owner cpu + 1). A sleeping
  // mutex in Linux; what matters here is that a frozen CPU may hold it.
  k.data.object(HWBP_SYM.nrBpMutex, 4);
  // smp_call_function's single call_function_data (perf is its only user).
  k.data.object('call_function_lock', 4);
  k.data.object('cfd_pending', 4);
  k.data.object('cfd_func', 8);
  k.data.object('cfd_info', 8);
  // Installs that found no free slot (must stay 0: the reservation guarantees one).
  k.data.object(HWBP_SYM.installFailed, 4);

  // int dbg_hw_breakpoint_alloc(int cpu): cpu >= 0 one CPU, -1 every online CPU.
  // atomic_add_negative(-1, &per_cpu(dbg_slots_pinned, cpu)) with rollback.
  fn(a, 'dbg_hw_breakpoint_alloc', () => {
    a.test(edi, edi);
    a.j('s', '.all');
    a.mov(ecx, edi);
    pcpuOf(a);
    a.lock().dec(dword(rdx, PCPU.dbg_slots_pinned));
    a.j('ns', '.ok');
    a.lock().inc(dword(rdx, PCPU.dbg_slots_pinned));
    a.jmp('.fail');
    a.label('.all');
    a.xor(ecx, ecx);
    a.label('.loop');
    a.cmp(ecx, dword('nr_cpu_ids'));
    a.j('ae', '.ok');
    pcpuOf(a);
    a.lock().dec(dword(rdx, PCPU.dbg_slots_pinned));
    a.j('s', '.rollback');
    a.inc(ecx);
    a.jmp('.loop');
    a.label('.rollback'); // give back this CPU's and every earlier CPU's decrement
    a.lock().inc(dword(rdx, PCPU.dbg_slots_pinned));
    a.test(ecx, ecx);
    a.j('e', '.fail');
    a.dec(ecx);
    pcpuOf(a);
    a.jmp('.rollback');
    a.label('.fail');
    a.mov(eax, -ENOSPC);
    a.pop(rbp);
    a.ret();
    a.label('.ok');
    a.xor(eax, eax);
    a.pop(rbp);
    a.ret();
  });

  // void dbg_hw_breakpoint_free(int cpu): atomic_inc on one / every CPU.
  fn(a, 'dbg_hw_breakpoint_free', () => {
    a.test(edi, edi);
    a.j('s', '.all');
    a.mov(ecx, edi);
    pcpuOf(a);
    a.lock().inc(dword(rdx, PCPU.dbg_slots_pinned));
    a.pop(rbp);
    a.ret();
    a.label('.all');
    a.xor(ecx, ecx);
    a.label('.loop');
    a.cmp(ecx, dword('nr_cpu_ids'));
    a.j('ae', '.out');
    pcpuOf(a);
    a.lock().inc(dword(rdx, PCPU.dbg_slots_pinned));
    a.inc(ecx);
    a.jmp('.loop');
    a.label('.out');
    a.pop(rbp);
    a.ret();
  });

  // int fetch_bp_busy_slots(int cpu): the most slots perf has pinned on the CPU(s) (under nr_bp_mutex).
  fn(a, 'fetch_bp_busy_slots', () => {
    a.xor(eax, eax);
    a.xor(ecx, ecx);
    a.mov(esi, dword('nr_cpu_ids'));
    a.test(edi, edi);
    a.j('s', '.loop');
    a.mov(ecx, edi);
    a.lea(esi, qword(rdi, 1));
    a.label('.loop');
    a.cmp(ecx, esi);
    a.j('ae', '.out');
    pcpuOf(a);
    a.cmp(eax, dword(rdx, PCPU.nr_cpu_bp_pinned));
    a.cmov('b', eax, dword(rdx, PCPU.nr_cpu_bp_pinned));
    a.inc(ecx);
    a.jmp('.loop');
    a.label('.out');
    a.pop(rbp);
    a.ret();
  });

  // void toggle_bp_slot(int cpu, int delta /* +1 / -1 */): nr_cpu_bp_pinned += delta (locked add).
  fn(a, 'toggle_bp_slot', () => {
    a.xor(ecx, ecx);
    a.mov(r8d, dword('nr_cpu_ids'));
    a.test(edi, edi);
    a.j('s', '.loop');
    a.mov(ecx, edi);
    a.lea(r8d, qword(rdi, 1));
    a.label('.loop');
    a.cmp(ecx, r8d);
    a.j('ae', '.out');
    pcpuOf(a);
    a.lock().add(dword(rdx, PCPU.nr_cpu_bp_pinned), esi);
    a.inc(ecx);
    a.jmp('.loop');
    a.label('.out');
    a.pop(rbp);
    a.ret();
  });

  // int reserve_bp_slot(int cpu): 0 or -ENOSPC. Takes nr_bp_mutex.
  fn(a, HWBP_SYM.reserve, () => {
    a.push(rbx);
    a.push(r12);
    a.mov(r12d, edi);
    a.lea(rdi, qword(HWBP_SYM.nrBpMutex));
    a.call('_raw_spin_lock'); // mutex_lock(&nr_bp_mutex)
    a.mov(edi, r12d);
    a.call('dbg_hw_breakpoint_alloc'); // the lockless share with the debugger
    a.mov(ebx, eax);
    a.test(eax, eax);
    a.j('ne', '.unlock');
    a.mov(edi, r12d);
    a.call('fetch_bp_busy_slots');
    a.cmp(eax, HBP_NUM); // perf's own constraint (nr_cpu_bp_pinned), as before the patch
    a.j('b', '.take');
    a.mov(edi, r12d);
    a.call('dbg_hw_breakpoint_free');
    a.mov(ebx, -ENOSPC);
    a.jmp('.unlock');
    a.label('.take');
    a.mov(edi, r12d);
    a.mov(esi, 1);
    a.call('toggle_bp_slot');
    a.label('.unlock');
    a.lea(rdi, qword(HWBP_SYM.nrBpMutex));
    a.call('_raw_spin_unlock'); // mutex_unlock(&nr_bp_mutex)
    a.mov(eax, ebx);
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });

  // void release_bp_slot(int cpu): takes nr_bp_mutex.
  fn(a, HWBP_SYM.release, () => {
    a.push(rbx);
    a.push(r12);
    a.mov(r12d, edi);
    a.lea(rdi, qword(HWBP_SYM.nrBpMutex));
    a.call('_raw_spin_lock');
    a.mov(edi, r12d);
    a.mov(esi, -1);
    a.call('toggle_bp_slot');
    a.mov(edi, r12d);
    a.call('dbg_hw_breakpoint_free');
    a.lea(rdi, qword(HWBP_SYM.nrBpMutex));
    a.call('_raw_spin_unlock');
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });

  // void set_debugreg7(void): DR7 = this CPU's cpu_dr7. Restartable: the debugger
  // rewinds a CPU frozen at __dr7_reload_commit to __dr7_reload_begin. Clobbers rax.
  fn(a, 'set_debugreg7', () => {
    a.label(HWBP_SYM.dr7ReloadBegin);
    a.mov(rax, gsq(PCPU.cpu_dr7));
    a.label(HWBP_SYM.dr7ReloadCommit);
    a.mov(dr7, rax);
    a.pop(rbp);
    a.ret();
  });

  // int arch_install_hw_breakpoint(struct perf_bp *bp): on this CPU, irqs off.
  // Returns the slot, or -EBUSY when no slot is free (counted: must never happen).
  fn(a, 'arch_install_hw_breakpoint', () => {
    a.mov(rsi, gsq(PCPU.this_cpu_off));
    a.xor(ecx, ecx);
    a.label('.try');
    a.cmp(ecx, HBP_NUM);
    a.j('ae', '.full');
    a.mov(edx, dword(rdi, PERF_BP.owner));
    a.xor(eax, eax);
    a.lock().cmpxchg(dword({ base: rsi, index: rcx, scale: 4, disp: PCPU.bp_per_reg }), edx);
    a.j('e', '.got');
    a.inc(ecx);
    a.jmp('.try');
    a.label('.got');
    a.mov(rax, qword(rdi, PERF_BP.addr));
    const drs = [dr0, dr1, dr2, dr3];
    for (let n = 0; n < 4; n++) {
      a.cmp(ecx, n);
      a.j('ne', `.not${n}`);
      a.mov(drs[n]!, rax);
      a.jmp('.dr7');
      a.label(`.not${n}`);
    }
    a.label('.dr7');
    // cpu_dr7 |= (ctrl << (16 + 4n)) | (2 << 2n)   (G enable bit, as kgdb and perf use)
    a.mov(edx, ecx); // slot
    a.mov(eax, dword(rdi, PERF_BP.ctrl));
    a.lea(ecx, qword({ index: rdx, scale: 4, disp: 16 }));
    a.shl(rax, cl);
    a.mov(esi, 2);
    a.lea(ecx, qword({ base: rdx, index: rdx }));
    a.shl(rsi, cl);
    a.or(rax, rsi);
    a.lock().or(gsq(PCPU.cpu_dr7), rax);
    a.push(rdx);
    a.call('set_debugreg7');
    a.pop(rax); // the slot
    a.pop(rbp);
    a.ret();
    a.label('.full');
    a.lock().inc(dword(HWBP_SYM.installFailed));
    a.mov(eax, -EBUSY);
    a.pop(rbp);
    a.ret();
  });

  // void arch_uninstall_hw_breakpoint(struct perf_bp *bp): on this CPU, irqs off.
  // Disable in cpu_dr7 and DR7 first, give the slot back last.
  fn(a, 'arch_uninstall_hw_breakpoint', () => {
    a.mov(rsi, gsq(PCPU.this_cpu_off));
    a.mov(r8d, dword(rdi, PERF_BP.owner));
    a.xor(ecx, ecx);
    a.label('.scan');
    a.cmp(ecx, HBP_NUM);
    a.j('ae', '.out');
    a.cmp(dword({ base: rsi, index: rcx, scale: 4, disp: PCPU.bp_per_reg }), r8d);
    a.j('e', '.found');
    a.inc(ecx);
    a.jmp('.scan');
    a.label('.found');
    a.mov(edx, ecx);
    a.mov(eax, 0xf);
    a.lea(ecx, qword({ index: rdx, scale: 4, disp: 16 }));
    a.shl(rax, cl);
    a.mov(r9d, 3);
    a.lea(ecx, qword({ base: rdx, index: rdx }));
    a.shl(r9, cl);
    a.or(rax, r9);
    a.not(rax);
    a.lock().and(gsq(PCPU.cpu_dr7), rax);
    a.call('set_debugreg7');
    a.mov(dword({ base: rsi, index: rdx, scale: 4, disp: PCPU.bp_per_reg }), HBP_OWNER.FREE);
    a.label('.out');
    a.pop(rbp);
    a.ret();
  });

  // void hw_breakpoint_handler(struct pt_regs *regs): from do_debug, for the #DBs no
  // debugger claimed. Each DR6 trap bit whose slot perf owns is a perf hit; an
  // execute breakpoint gets RF so the instruction can run on return.
  fn(a, 'hw_breakpoint_handler', () => {
    a.push(rbx);
    a.push(r12);
    a.push(r13);
    a.mov(r13, rdi);
    a.mov(rax, dr6);
    a.mov(ebx, eax);
    a.and(ebx, 0xf);
    a.xor(r12d, r12d);
    a.label('.slot');
    a.cmp(r12d, HBP_NUM);
    a.j('ae', '.done');
    a.mov(ecx, r12d);
    a.mov(eax, ebx);
    a.shr(eax, cl);
    a.test(eax, 1);
    a.j('e', '.next');
    a.mov(rsi, gsq(PCPU.this_cpu_off));
    a.cmp(dword({ base: rsi, index: r12, scale: 4, disp: PCPU.bp_per_reg }), HBP_OWNER.PERF);
    a.j('ne', '.next');
    a.call('perf_bp_event');
    // execute breakpoint (RW bits 00 in DR7)? set RF in the frame
    a.mov(rax, dr7);
    a.lea(ecx, qword({ index: r12, scale: 4, disp: 16 }));
    a.shr(rax, cl);
    a.test(eax, 3);
    a.j('ne', '.next');
    a.or(qword(r13, PT_REGS.flags), X86_EFLAGS_RF);
    a.label('.next');
    a.inc(r12d);
    a.jmp('.slot');
    a.label('.done');
    a.xor(eax, eax);
    a.mov(dr6, rax); // clear the trap bits (Linux: set_debugreg(0, 6))
    a.pop(r13);
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });

  // void on_each_cpu(void (*func)(void *), void *info): run func on every online CPU
  // with interrupts off (IPI CALL_FUNCTION_VECTOR to the others) and wait for all.
  fn(a, 'on_each_cpu', () => {
    a.push(r12);
    a.push(r13);
    a.mov(r12, rdi);
    a.mov(r13, rsi);
    a.lea(rdi, qword('call_function_lock'));
    a.call('_raw_spin_lock');
    a.mov(qword('cfd_func'), r12);
    a.mov(qword('cfd_info'), r13);
    a.mov(eax, dword('nr_cpu_ids'));
    a.dec(eax);
    a.mov(dword('cfd_pending'), eax);
    a.mov(eax, (3 << 18) | VECTOR.CALL_FUNCTION); // all excluding self, fixed delivery
    a.xor(edx, edx);
    a.mov(ecx, MSR.APIC_ICR);
    a.wrmsr();
    a.pushfq();
    a.cli();
    a.mov(rdi, r13);
    a.call(r12);
    a.popfq();
    a.label('.wait');
    a.cmp(dword('cfd_pending'), 0);
    a.j('e', '.done');
    a.pause();
    a.jmp('.wait');
    a.label('.done');
    a.lea(rdi, qword('call_function_lock'));
    a.call('_raw_spin_unlock');
    a.pop(r13);
    a.pop(r12);
    a.pop(rbp);
    a.ret();
  });

  // void generic_smp_call_function_interrupt(void): the IPI side of on_each_cpu.
  fn(a, 'generic_smp_call_function_interrupt', () => {
    a.mov(rax, qword('cfd_func'));
    a.mov(rdi, qword('cfd_info'));
    a.call(rax);
    a.lock().dec(dword('cfd_pending'));
    a.pop(rbp);
    a.ret();
  });

  // int register_wide_hw_breakpoint(struct perf_bp *bp): reserve on every CPU, install by IPI.
  fn(a, 'register_wide_hw_breakpoint', () => {
    a.push(rbx);
    a.push(r12);
    a.mov(r12, rdi);
    a.mov(edi, -1);
    a.call(HWBP_SYM.reserve);
    a.test(eax, eax);
    a.j('ne', '.out');
    a.lea(rdi, qword('arch_install_hw_breakpoint'));
    a.mov(rsi, r12);
    a.call('on_each_cpu');
    a.xor(eax, eax);
    a.label('.out');
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });

  // void unregister_wide_hw_breakpoint(struct perf_bp *bp): uninstall everywhere, then release.
  fn(a, 'unregister_wide_hw_breakpoint', () => {
    a.push(rbx);
    a.push(r12);
    a.mov(r12, rdi);
    a.lea(rdi, qword('arch_uninstall_hw_breakpoint'));
    a.mov(rsi, r12);
    a.call('on_each_cpu');
    a.mov(edi, -1);
    a.call(HWBP_SYM.release);
    a.pop(r12);
    a.pop(rbx);
    a.pop(rbp);
    a.ret();
  });
}
