// Spin locks (Linux kernel/locking/spinlock.c + arch/x86 raw spinlocks).
//
// A lock is one u32: 0 when free, otherwise the number of the CPU holding
// it plus one (so a debugger can say who holds it). Taking a lock disables
// preemption first (preempt_count++), exactly as Linux's spin_lock() does:
// a task holding a spin lock must never be switched out, or another task on
// the same CPU could spin forever on it. The *_irqsave variants also mask
// interrupts, for locks an interrupt handler may take too.
//
// Register use: the lock functions clobber only rax and rcx (and flags).

import { eax, ecx, rax, rbp, rdi, rsi, dword } from './asm.js';
import { fn, gsd, type Sections } from './kbuild.js';
import { PCPU } from './layout.js';

export function emitSpinlock(k: Sections): void {
  const a = k.text;

  // void _raw_spin_lock(spinlock_t *lock /* rdi */)
  fn(a, '_raw_spin_lock', () => {
    a.inc(gsd(PCPU.preempt_count)); // preempt_disable()
    a.mov(ecx, gsd(PCPU.cpu_number));
    a.inc(ecx); // the value we store: owner cpu + 1
    a.label('.retry');
    a.xor(eax, eax); // expect "free"
    a.lock().cmpxchg(dword(rdi, 0), ecx);
    a.j('ne', '.contended');
    a.pop(rbp);
    a.ret();
    // Spin reading (not writing) until the lock looks free, then try again:
    // the read-only loop keeps the cache line shared, `pause` tells the core.
    a.label('.contended');
    a.pause();
    a.cmp(dword(rdi, 0), 0);
    a.j('ne', '.contended');
    a.jmp('.retry');
  });

  // int _raw_spin_trylock(spinlock_t *lock): 1 if taken, 0 if it was held
  fn(a, '_raw_spin_trylock', () => {
    a.inc(gsd(PCPU.preempt_count));
    a.mov(ecx, gsd(PCPU.cpu_number));
    a.inc(ecx);
    a.xor(eax, eax);
    a.lock().cmpxchg(dword(rdi, 0), ecx);
    a.j('ne', '.busy');
    a.mov(eax, 1);
    a.pop(rbp);
    a.ret();
    a.label('.busy');
    a.dec(gsd(PCPU.preempt_count)); // we did not get it: undo preempt_disable()
    a.xor(eax, eax);
    a.pop(rbp);
    a.ret();
  });

  // void _raw_spin_unlock(spinlock_t *lock): a plain store releases on x86 (TSO)
  fn(a, '_raw_spin_unlock', () => {
    a.mov(dword(rdi, 0), 0);
    a.dec(gsd(PCPU.preempt_count)); // preempt_enable() (preemption happens at the next interrupt exit)
    a.pop(rbp);
    a.ret();
  });

  // unsigned long _raw_spin_lock_irqsave(spinlock_t *lock): returns the old RFLAGS
  fn(a, '_raw_spin_lock_irqsave', () => {
    a.pushfq();
    a.cli();
    a.call('_raw_spin_lock');
    a.pop(rax);
    a.pop(rbp);
    a.ret();
  });

  // void _raw_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags /* rsi */)
  fn(a, '_raw_spin_unlock_irqrestore', () => {
    a.mov(dword(rdi, 0), 0);
    a.dec(gsd(PCPU.preempt_count));
    a.push(rsi);
    a.popfq(); // interrupts back on only if they were on before the lock
    a.pop(rbp);
    a.ret();
  });
}
