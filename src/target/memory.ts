// Sparse paged memory over the 64-bit address space.
//
// Addresses are signed canonical JS numbers (see x86/instr.ts). Pages are 4 KiB
// with r/w/x permissions; an access to an unmapped page, or one the page does
// not permit, raises #PF. Each page carries its own decode cache so that a
// write to code (a debugger planting 0xCC, self-modifying code) invalidates
// exactly the instructions it could change.

import { CpuFault, PF_FETCH, PF_PRESENT, PF_WRITE, VEC_PF } from './fault.js';
import type { BoundInstr } from './x86/instr.js';
import type { Cpu } from './cpu.js';

export const PAGE_SIZE = 4096;
export const PERM_R = 1, PERM_W = 2, PERM_X = 4;
export const PERM_RW = PERM_R | PERM_W;
export const PERM_RX = PERM_R | PERM_X;

/** A run of instructions with no control transfer before the last one. */
export interface Block {
  readonly start: number;
  readonly ins: readonly BoundInstr[];
  /** False once the page it was decoded from has been written. */
  valid: boolean;
  /** Successor cache: the blocks that last followed this one (fall-through / taken). */
  link0: Block | undefined;
  link1: Block | undefined;
  /** Times the run loop entered this block (until it gets a compiled body). */
  hits: number;
  /** The block compiled into one function (block-compiler.ts), once it is hot. */
  fn: BlockFn | undefined;
}

/**
 * A compiled block: runs the block's instructions in order on `cpu` and returns
 * how many completed (all of them, or fewer when one raised cpu.attention). If
 * an instruction throws, cpu.blockPos is its index in the block.
 */
export type BlockFn = (cpu: Cpu) => number;

export class Page {
  readonly data = new Uint8Array(PAGE_SIZE);
  readonly view = new DataView(this.data.buffer);
  /** Decoded instructions by page offset; null when nothing has been decoded here. */
  code: Array<BoundInstr | undefined> | null = null;
  /** Straight-line blocks of decoded instructions by start offset (the run loop's cache). */
  blocks: Array<Block | undefined> | null = null;
  constructor(
    readonly vpn: number,
    public perms: number,
  ) {}
}

/** Called on every access while data watchpoints are armed (see Memory.watching). */
export type AccessHook = (addr: number, size: number, write: boolean) => void;

const TLB_SIZE = 256;

export class Memory {
  private readonly pages = new Map<number, Page>();
  // A direct-mapped cache in front of the Map: most accesses hit the same few pages.
  private readonly tlbVpn = new Float64Array(TLB_SIZE).fill(NaN);
  private readonly tlbPage: Array<Page | undefined> = new Array<Page | undefined>(TLB_SIZE);

  /** High 32 bits of the last read64 (avoids allocating a pair per read). */
  hi = 0;
  /** When true, every guest data access calls onAccess (data watchpoints armed on some CPU). */
  watching = false;
  onAccess: AccessHook = () => {};
  /** Called when a write lands on a page holding decoded code (so block caches can drop it). */
  onCodeWrite: (page: Page) => void = () => {};

  get pageCount(): number {
    return this.pages.size;
  }

  /** Map [addr, addr+size) with the given permissions (page-granular, zero-filled). */
  map(addr: number, size: number, perms: number): void {
    if (size <= 0) return;
    const first = Math.floor(addr / PAGE_SIZE);
    const last = Math.floor((addr + size - 1) / PAGE_SIZE);
    for (let vpn = first; vpn <= last; vpn++) {
      const p = this.pages.get(vpn);
      if (p) {
        // Execute permission may have changed: chained blocks must re-check it.
        if (p.perms !== perms && (p.code !== null || p.blocks !== null)) this.invalidate(p);
        p.perms = perms;
      }
      else this.pages.set(vpn, new Page(vpn, perms));
    }
  }

  protect(addr: number, size: number, perms: number): void {
    this.map(addr, size, perms);
  }

  /** The page holding addr, or undefined if unmapped. No permission check. */
  pageAt(addr: number): Page | undefined {
    const vpn = Math.floor(addr / PAGE_SIZE);
    const slot = vpn & (TLB_SIZE - 1);
    if (this.tlbVpn[slot] === vpn) return this.tlbPage[slot];
    const p = this.pages.get(vpn);
    if (p) {
      this.tlbVpn[slot] = vpn;
      this.tlbPage[slot] = p;
    }
    return p;
  }

  isMapped(addr: number): boolean {
    return this.pageAt(addr) !== undefined;
  }

  /** Every page, for snapshots and accounting. */
  allPages(): IterableIterator<Page> {
    return this.pages.values();
  }

  private fault(addr: number, write: boolean, fetch: boolean, present: boolean): never {
    throw new CpuFault(VEC_PF, (present ? PF_PRESENT : 0) | (write ? PF_WRITE : 0) | (fetch ? PF_FETCH : 0), addr);
  }

  private readable(addr: number): Page {
    const p = this.pageAt(addr);
    if (p === undefined || (p.perms & PERM_R) === 0) this.fault(addr, false, false, p !== undefined);
    return p;
  }

  private writable(addr: number): Page {
    const p = this.pageAt(addr);
    if (p === undefined || (p.perms & PERM_W) === 0) this.fault(addr, true, false, p !== undefined);
    if (p.code !== null || p.blocks !== null) this.invalidate(p);
    return p;
  }

  private invalidate(p: Page): void {
    p.code = null;
    if (p.blocks !== null) for (const b of p.blocks) if (b !== undefined) b.valid = false;
    p.blocks = null;
    this.onCodeWrite(p);
  }

  /** Page for instruction fetch at addr (execute permission). */
  fetchPage(addr: number): Page {
    const p = this.pageAt(addr);
    if (p === undefined || (p.perms & PERM_X) === 0) this.fault(addr, false, true, p !== undefined);
    return p;
  }

  fetch8(addr: number): number {
    return this.fetchPage(addr).data[addr & 4095];
  }

  // ---- guest data accesses (permission-checked, watchpoint-aware) ----

  read8(addr: number): number {
    const p = this.readable(addr);
    if (this.watching) this.onAccess(addr, 1, false);
    return p.data[addr & 4095];
  }

  read16(addr: number): number {
    const off = addr & 4095;
    if (off <= 4094) {
      const p = this.readable(addr);
      if (this.watching) this.onAccess(addr, 2, false);
      return p.view.getUint16(off, true);
    }
    this.readable(addr + 1);
    return this.read8(addr) | (this.read8(addr + 1) << 8);
  }

  /** 32-bit read; returns an int32 (signed), as registers store halves. */
  read32(addr: number): number {
    const off = addr & 4095;
    if (off <= 4092) {
      const p = this.readable(addr);
      if (this.watching) this.onAccess(addr, 4, false);
      return p.view.getInt32(off, true);
    }
    this.readable(addr + 3); // fault before touching anything
    return (this.read16(addr) | (this.read16(addr + 2) << 16)) | 0;
  }

  /** 64-bit read: returns the low half (int32), the high half is left in this.hi. */
  read64(addr: number): number {
    const off = addr & 4095;
    if (off <= 4088) {
      const p = this.readable(addr);
      if (this.watching) this.onAccess(addr, 8, false);
      this.hi = p.view.getInt32(off + 4, true);
      return p.view.getInt32(off, true);
    }
    this.readable(addr + 7);
    const lo = this.read32(addr);
    this.hi = this.read32(addr + 4);
    return lo;
  }

  write8(addr: number, v: number): void {
    const p = this.writable(addr);
    if (this.watching) this.onAccess(addr, 1, true);
    p.data[addr & 4095] = v;
  }

  write16(addr: number, v: number): void {
    const off = addr & 4095;
    if (off <= 4094) {
      const p = this.writable(addr);
      if (this.watching) this.onAccess(addr, 2, true);
      p.view.setUint16(off, v & 0xffff, true);
      return;
    }
    this.writable(addr + 1);
    this.write8(addr, v & 0xff);
    this.write8(addr + 1, (v >>> 8) & 0xff);
  }

  write32(addr: number, v: number): void {
    const off = addr & 4095;
    if (off <= 4092) {
      const p = this.writable(addr);
      if (this.watching) this.onAccess(addr, 4, true);
      p.view.setInt32(off, v | 0, true);
      return;
    }
    this.writable(addr + 3);
    this.write16(addr, v & 0xffff);
    this.write16(addr + 2, (v >>> 16) & 0xffff);
  }

  write64(addr: number, lo: number, hi: number): void {
    const off = addr & 4095;
    if (off <= 4088) {
      const p = this.writable(addr);
      if (this.watching) this.onAccess(addr, 8, true);
      p.view.setInt32(off, lo | 0, true);
      p.view.setInt32(off + 4, hi | 0, true);
      return;
    }
    this.writable(addr + 7);
    this.write32(addr, lo);
    this.write32(addr + 4, hi);
  }

  // ---- host (debugger, loader) accesses: no permission checks, all-or-nothing ----

  /** True when every byte of [addr, addr+len) is mapped. */
  rangeMapped(addr: number, len: number): boolean {
    if (len <= 0) return true;
    const first = Math.floor(addr / PAGE_SIZE);
    const last = Math.floor((addr + len - 1) / PAGE_SIZE);
    for (let vpn = first; vpn <= last; vpn++) if (!this.pages.has(vpn)) return false;
    return true;
  }

  /** Copy out len bytes, or undefined if any byte is unmapped. */
  peek(addr: number, len: number): Uint8Array | undefined {
    if (!this.rangeMapped(addr, len)) return undefined;
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const p = this.pageAt(a)!;
      const off = a & 4095;
      const n = Math.min(len - done, PAGE_SIZE - off);
      out.set(p.data.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  /** Write bytes ignoring W permission (the debugger patches text); false if any byte is unmapped. */
  poke(addr: number, bytes: Uint8Array): boolean {
    if (!this.rangeMapped(addr, bytes.length)) return false;
    let done = 0;
    while (done < bytes.length) {
      const a = addr + done;
      const p = this.pageAt(a)!;
      const off = a & 4095;
      const n = Math.min(bytes.length - done, PAGE_SIZE - off);
      p.data.set(bytes.subarray(done, done + n), off);
      if (p.code !== null || p.blocks !== null) this.invalidate(p);
      done += n;
    }
    return true;
  }

  // Host-side little-endian helpers for the loader and the debug core (which
  // reads kernel state on every stop and resume): no allocation when the value
  // lies within one page, the common case.

  peek64(addr: number): bigint | undefined {
    const p = this.wordPage(addr, 8);
    if (p !== undefined) return p.view.getBigUint64(addr & 4095, true);
    const b = this.peek(addr, 8);
    return b === undefined ? undefined : new DataView(b.buffer).getBigUint64(0, true);
  }

  poke64(addr: number, v: bigint): boolean {
    const p = this.wordPage(addr, 8);
    if (p === undefined) {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
      return this.poke(addr, b);
    }
    p.view.setBigUint64(addr & 4095, BigInt.asUintN(64, v), true);
    if (p.code !== null || p.blocks !== null) this.invalidate(p);
    return true;
  }

  peekU32(addr: number): number | undefined {
    const p = this.wordPage(addr, 4);
    if (p !== undefined) return p.view.getUint32(addr & 4095, true);
    const b = this.peek(addr, 4);
    return b === undefined ? undefined : new DataView(b.buffer).getUint32(0, true);
  }

  pokeU32(addr: number, v: number): boolean {
    const p = this.wordPage(addr, 4);
    if (p === undefined) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v >>> 0, true);
      return this.poke(addr, b);
    }
    p.view.setUint32(addr & 4095, v >>> 0, true);
    if (p.code !== null || p.blocks !== null) this.invalidate(p);
    return true;
  }

  /** The mapped page holding all `size` bytes at addr, or undefined (unmapped, or split across pages: the slow path). */
  private wordPage(addr: number, size: number): Page | undefined {
    return (addr & 4095) <= PAGE_SIZE - size ? this.pageAt(addr) : undefined;
  }
}
