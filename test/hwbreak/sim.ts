// Helpers for the hardware-breakpoint tests: an in-process machine driven
// synchronously by the debug core (no gdb, no event loop), and guest-memory
// readers for the slot accounting.

import { expect } from 'vitest';
import { buildKernelImage } from '../../src/kernel/image.js';
import { HBP_NUM, HBP_OWNER, PCPU, PERCPU_STRIDE } from '../../src/kernel/layout.js';
import { symbolAddr } from '../../src/kernel/link.js';
import { X86HwBreakpoints } from '../../src/hwbreak/index.js';
import { type CpuPlan, DebugCore } from '../../src/kgdb/debug-core.js';
import { canon, createMachine } from '../../src/system.js';
import type { Machine } from '../../src/target/machine.js';
import type { Memory } from '../../src/target/memory.js';

export const image = buildKernelImage();
export const symN = (n: string): number => canon(symbolAddr(image, n));

export function u32(mem: Memory, a: number): number {
  const b = mem.peek(a, 4)!;
  return new DataView(b.buffer, b.byteOffset).getInt32(0, true);
}
export function setU32(mem: Memory, a: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  mem.poke(a, b);
}
export function u64(mem: Memory, a: number): number {
  return Number(mem.peek64(a)!);
}
export function pcpu(cpu: number, field: number): number {
  return symN('per_cpu_area') + cpu * PERCPU_STRIDE + field;
}

/** Every CPU's slot accounting as the guest sees it. */
export function slots(m: Machine): Array<{ free: number; pinned: number; owners: number[] }> {
  return m.cpus.map((c) => ({
    free: u32(m.mem, pcpu(c.id, PCPU.dbg_slots_pinned)),
    pinned: u32(m.mem, pcpu(c.id, PCPU.nr_cpu_bp_pinned)),
    owners: [0, 1, 2, 3].map((n) => u32(m.mem, pcpu(c.id, PCPU.bp_per_reg + 4 * n))),
  }));
}

/**
 * The counters equal 4 minus the slots in use, on every CPU: the debugger's
 * breakpoints plus perf's pinned ones. Exact whenever nr_bp_mutex is free (perf
 * changes both under it); within one while a CPU is inside the mutex.
 */
export function expectConsistent(m: Machine, hw: X86HwBreakpoints): void {
  const held = u32(m.mem, symN('nr_bp_mutex')) !== 0;
  for (const [cpu, s] of slots(m).entries()) {
    const want = HBP_NUM - hw.inUse - s.pinned;
    if (held) expect(Math.abs(s.free - want), `CPU${cpu} counter ${s.free} vs ${want} (mutex held)`).toBeLessThanOrEqual(1);
    else expect(s.free, `CPU${cpu}: dbg_slots_pinned = 4 - ${hw.inUse} (debugger) - ${s.pinned} (perf)`).toBe(want);
    expect(s.free).toBeGreaterThanOrEqual(-1);
    expect(s.owners.filter((o) => o !== HBP_OWNER.FREE).length).toBeLessThanOrEqual(HBP_NUM);
  }
}

export class SyncSim {
  readonly m: Machine;
  readonly hw: X86HwBreakpoints;
  readonly core: DebugCore;
  /** Entries where a CPU's hardware DR7 disagreed with its cpu_dr7 outside the routines that update them. */
  readonly incoherent: string[] = [];

  constructor(cpus: number, seed: number, linuxWire = false) {
    this.m = createMachine(image, { cpus, seed, clock: { kind: 'none' } });
    this.hw = new X86HwBreakpoints(this.m, image, { linuxWire });
    const hooks = this.hw.hooks;
    // DR7 coherence, checked at every entry before the debugger disables it: the hardware
    // DR7 equals the CPU's cpu_dr7 unless the CPU is inside a routine that is updating them.
    const fns = ['arch_install_hw_breakpoint', 'arch_uninstall_hw_breakpoint', 'set_debugreg7'].map((n) => {
      const sy = image.symbols.find((x) => x.name === n)!;
      return [canon(sy.addr), canon(sy.addr) + sy.size] as const;
    });
    this.core = new DebugCore(this.m, {
      ...hooks,
      cpuEnter: (cpu, e) => {
        const inside = fns.some(([a, b]) => cpu.rip >= a && cpu.rip < b);
        if (!inside && cpu.dr7 !== ((this.hw.cpuDr7(cpu.id) | 0x400) >>> 0)) this.incoherent.push(`CPU${cpu.id} rip ${cpu.rip.toString(16)} DR7 ${cpu.dr7.toString(16)} cpu_dr7 ${this.hw.cpuDr7(cpu.id).toString(16)}`);
        hooks.cpuEnter!(cpu, e);
      },
    });
    this.core.reportSwbreakAddress = true;
  }

  /** Run until the debug core has a complete stop (or throw after budgetNs of virtual time). */
  runUntilStopped(budgetNs = 20e9): void {
    const end = this.m.now + budgetNs;
    while (this.core.state !== 'stopped') {
      if (this.core.state === 'entering') {
        this.core.completeEntry();
        continue;
      }
      if (this.m.now >= end) throw new Error(`no stop within ${budgetNs} ns`);
      this.m.run(Math.min(end, this.m.now + 10_000_000), 4_000_000);
      if ((this.core.state as string) === 'entering') this.core.completeEntry();
    }
  }

  resume(plans?: CpuPlan[]): void {
    this.core.resume(plans ?? this.m.cpus.map(() => 'continue'));
  }

  /** Continue everything until a software breakpoint at `sym` is hit; it is removed again. */
  runTo(sym: string, budgetNs?: number): number {
    const at = symN(sym);
    this.core.sw.set(at);
    if (this.core.state === 'stopped') this.resume();
    else this.core.sw.activate();
    this.runUntilStopped(budgetNs);
    this.core.sw.remove(at);
    const e = this.core.entry!;
    expect(e.swbreakAt, `stopped at ${sym}`).toBe(at);
    return e.cpu;
  }

  /** Single-step one CPU with every other CPU held in the debugger. */
  step(cpu: number): void {
    this.resume(this.m.cpus.map((c) => (c.id === cpu ? 'step' : 'hold')));
    this.runUntilStopped(1e9);
  }

  stopNow(): void {
    this.core.stopNow(5);
  }
}
