// The debugger's side of the lockless slot reservation (seed 001 patch 2 v2,
// `_dbg_hw_breakpoint_all_alloc` / `_dbg_hw_breakpoint_all_free`).
//
// Each CPU's `dbg_slots_pinned` (PCPU 0x80, guest memory) counts the debug
// register slots still free on that CPU; the kernel's reserve_bp_slot and
// release_bp_slot (src/kernel/hw_breakpoint.ts) update the same words with
// `lock dec` / `lock inc` while holding nr_bp_mutex. The debugger runs while
// every CPU is stopped at an instruction boundary, so each read-modify-write
// here is as atomic as a locked instruction — and it never looks at
// nr_bp_mutex: a CPU may be frozen holding it, and waiting for it would hang
// the debugger (and the kernel) for good. A failed reservation is an error
// reply, never a wait.

import { PCPU, PERCPU_STRIDE } from '../kernel/layout.js';
import type { Memory } from '../target/memory.js';

export class SlotCounters {
  constructor(
    private readonly mem: Memory,
    private readonly perCpuArea: number,
    readonly ncpus: number,
  ) {}

  private addr(cpu: number): number {
    return this.perCpuArea + cpu * PERCPU_STRIDE + PCPU.dbg_slots_pinned;
  }

  /** Current value of a CPU's counter (signed: a perf reservation in progress may show -1 briefly). */
  counter(cpu: number): number {
    const v = this.mem.peekU32(this.addr(cpu));
    if (v === undefined) throw new Error('per-CPU area not mapped');
    return v | 0;
  }

  private add(cpu: number, delta: number): number {
    const v = (this.counter(cpu) + delta) | 0;
    this.mem.pokeU32(this.addr(cpu), v);
    return v;
  }

  /** atomic_add_negative(-1) on one CPU; true if the result went negative. */
  private decAndTestNegative(cpu: number): boolean {
    return this.add(cpu, -1) < 0;
  }

  /**
   * Reserve one slot on every online CPU, or none: decrement each counter and,
   * at the first that goes negative, give back this one and all the earlier ones.
   */
  allocAll(): boolean {
    for (let cpu = 0; cpu < this.ncpus; cpu++) {
      if (this.decAndTestNegative(cpu)) {
        for (let c = cpu; c >= 0; c--) this.add(c, +1);
        return false;
      }
    }
    return true;
  }

  /** Give back one slot on every online CPU (atomic_inc). */
  freeAll(): void {
    for (let cpu = 0; cpu < this.ncpus; cpu++) this.add(cpu, +1);
  }
}
