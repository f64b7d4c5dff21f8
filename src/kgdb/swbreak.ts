// Software breakpoints, kgdb style (kernel/debug/debug_core.c kgdb_break[]):
// `Z0` only records the address; the 0xCC is written when the machine resumes
// (dbg_activate_sw_breakpoints) and the original byte is put back at every
// debugger entry (dbg_deactivate_sw_breakpoints), so gdb's memory reads never
// see an int3 and set/remove are idempotent.

import type { Memory } from '../target/memory.js';

export const BREAK_INSTR = 0xcc;
/** Linux KGDB_MAX_BREAKPOINTS. */
export const MAX_SW_BREAKPOINTS = 1000;

interface SwBreak {
  addr: number;
  /** Byte under the int3 while active. */
  saved: number;
  active: boolean;
}

export class SwBreakpoints {
  private readonly table = new Map<number, SwBreak>();

  constructor(private readonly mem: Memory) {}

  get size(): number {
    return this.table.size;
  }

  has(addr: number): boolean {
    return this.table.has(addr);
  }

  addresses(): number[] {
    return [...this.table.keys()];
  }

  /** Record a breakpoint; false when the address is not mapped or the table is full. */
  set(addr: number): 'ok' | 'fault' | 'full' {
    if (this.table.has(addr)) return 'ok';
    if (this.mem.peek(addr, 1) === undefined) return 'fault';
    if (this.table.size >= MAX_SW_BREAKPOINTS) return 'full';
    this.table.set(addr, { addr, saved: 0, active: false });
    return 'ok';
  }

  /** Remove a breakpoint (idempotent: removing an absent one is fine, as in Linux). */
  remove(addr: number): void {
    const b = this.table.get(addr);
    if (b === undefined) return;
    if (b.active) this.mem.poke(addr, Uint8Array.of(b.saved));
    this.table.delete(addr);
  }

  /** Plant 0xCC at every recorded address (on resume). */
  activate(): void {
    for (const b of this.table.values()) {
      if (b.active) continue;
      const cur = this.mem.peek(b.addr, 1);
      if (cur === undefined) continue;
      b.saved = cur[0];
      this.mem.poke(b.addr, Uint8Array.of(BREAK_INSTR));
      b.active = true;
    }
  }

  /** Put the original bytes back (at every debugger entry). */
  deactivate(): void {
    for (const b of this.table.values()) {
      if (!b.active) continue;
      this.mem.poke(b.addr, Uint8Array.of(b.saved));
      b.active = false;
    }
  }

  clear(): void {
    this.deactivate();
    this.table.clear();
  }

  /**
   * A debugger read of [addr, addr + bytes.length) while the int3s are
   * planted (a packet that arrives while the machine runs): show the original
   * bytes, so that `m` never shows a 0xCC of ours.
   */
  mask(addr: number, bytes: Uint8Array): void {
    for (const b of this.table.values()) {
      const i = b.addr - addr;
      if (b.active && i >= 0 && i < bytes.length) bytes[i] = b.saved;
    }
  }

  /**
   * A debugger write just replaced [addr, addr + data.length) while int3s are
   * planted there: keep them planted and remember the new bytes under them, so
   * that the next deactivate() restores what the debugger wrote.
   */
  rewritten(addr: number, data: Uint8Array): void {
    for (const b of this.table.values()) {
      const i = b.addr - addr;
      if (!b.active || i < 0 || i >= data.length) continue;
      b.saved = data[i];
      this.mem.poke(b.addr, Uint8Array.of(BREAK_INSTR));
    }
  }
}
