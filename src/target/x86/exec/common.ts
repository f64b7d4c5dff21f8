// Shared pieces of the semantics compiler: effective addresses, sized register
// and memory accessors. Everything here is chosen at compile time and captured
// by the per-instruction closures (no per-execution dispatch on the form).

import type { Cpu } from '../../cpu.js';
import { gp } from '../../fault.js';
import type { Memory } from '../../memory.js';
import { NOREG, SEG_FS, SEG_GS, type MemOperand } from '../instr.js';

export const TWO32 = 4294967296;

/** Mask of an operand size <= 4 as applied to an int32 (size 4: -1, so `x & m` is ToInt32). */
export function maskOf(sz: number): number {
  return sz === 1 ? 0xff : sz === 2 ? 0xffff : -1;
}

/** High half left by the last 64-bit helper (avoids allocating pairs). */
export let H = 0;
export function setH(v: number): void {
  H = v;
}

/** Split a signed canonical number into int32 halves: returns lo, hi in H. */
export function splitAddr(v: number): number {
  H = Math.floor(v / TWO32) | 0;
  return v | 0;
}

function canon(hi: number, lo: number): number {
  // canonical: bits 63..47 equal, i.e. the high half is in [-0x8000, 0x7fff]
  if (hi > 0x7fff || hi < -0x8000) throw gp(0);
  return hi * TWO32 + (lo >>> 0);
}

/** Raw effective address (no segment base, no canonical check, mod 2^64) as lo, hi in H: lea. */
export type RawEA = (cpu: Cpu) => number;

export function compileRawEA(m: MemOperand, next: number): RawEA {
  const disp = m.disp | 0;
  if (m.ripRel) {
    const v = next + disp;
    const lo = v | 0;
    const hi = Math.floor(v / TWO32) | 0;
    return () => {
      H = hi;
      return lo;
    };
  }
  const b = m.base === NOREG ? -1 : 2 * m.base;
  const x = m.index === NOREG ? -1 : 2 * m.index;
  const sc = m.scale;
  const dhi = disp >> 31;
  if (b >= 0 && x < 0) {
    return (cpu) => {
      const r = cpu.r;
      const s = (r[b] >>> 0) + disp; // disp signed: the floor below carries or borrows
      H = (r[b + 1] + (s < 0 ? -1 : s >= TWO32 ? 1 : 0)) | 0;
      return s | 0;
    };
  }
  if (b >= 0) {
    return (cpu) => {
      const r = cpu.r;
      const s = (r[b] >>> 0) + (r[x] >>> 0) * sc + disp;
      H = (r[b + 1] + Math.imul(r[x + 1], sc) + Math.floor(s / TWO32)) | 0;
      return s | 0;
    };
  }
  if (x >= 0) {
    return (cpu) => {
      const r = cpu.r;
      const s = (r[x] >>> 0) * sc + disp;
      H = (Math.imul(r[x + 1], sc) + Math.floor(s / TWO32)) | 0;
      return s | 0;
    };
  }
  return () => {
    H = dhi;
    return disp;
  };
}

/** Linear address of a memory operand: signed canonical, or #GP(0). */
export type EA = (cpu: Cpu) => number;

export function compileEA(m: MemOperand, next: number): EA {
  const disp = m.disp | 0;
  if (m.seg === SEG_FS || m.seg === SEG_GS) {
    const raw = compileRawEA(m, next);
    const fs = m.seg === SEG_FS;
    return (cpu) => {
      const lo = raw(cpu);
      const hi = H;
      const base = fs ? cpu.fsBase : cpu.gsBase;
      const s = (lo >>> 0) + ((base | 0) >>> 0);
      return canon((hi + Math.floor(base / TWO32) + (s >= TWO32 ? 1 : 0)) | 0, s);
    };
  }
  if (m.ripRel) {
    const v = next + disp;
    if (v > 0x7fffffffffff || v < -0x800000000000) {
      return () => {
        throw gp(0);
      };
    }
    return () => v;
  }
  const b = m.base === NOREG ? -1 : 2 * m.base;
  const x = m.index === NOREG ? -1 : 2 * m.index;
  if (b >= 0 && x < 0) {
    if (disp === 0) {
      return (cpu) => {
        const r = cpu.r;
        const hi = r[b + 1];
        if (hi > 0x7fff || hi < -0x8000) throw gp(0);
        return hi * TWO32 + (r[b] >>> 0);
      };
    }
    return (cpu) => {
      const r = cpu.r;
      const s = (r[b] >>> 0) + disp;
      const hi = r[b + 1] + (s < 0 ? -1 : s >= TWO32 ? 1 : 0);
      if (hi > 0x7fff || hi < -0x8000) throw gp(0);
      return hi * TWO32 + (s >>> 0);
    };
  }
  const raw = compileRawEA(m, next);
  return (cpu) => {
    const lo = raw(cpu);
    return canon(H, lo);
  };
}

// ---- registers of size 1, 2, 4 as numbers (size 1/2 zero-extended, size 4 int32) ----

export type Get = (cpu: Cpu) => number;
export type Put = (cpu: Cpu, v: number) => void;

export function regGet(n: number, sz: number): Get {
  if (sz === 4) {
    const i = 2 * n;
    return (cpu) => cpu.r[i];
  }
  if (sz === 2) {
    const i = 2 * n;
    return (cpu) => cpu.r[i] & 0xffff;
  }
  if (n >= 16) {
    const i = 2 * (n - 16);
    return (cpu) => (cpu.r[i] >> 8) & 0xff;
  }
  const i = 2 * n;
  return (cpu) => cpu.r[i] & 0xff;
}

export function regPut(n: number, sz: number): Put {
  if (sz === 4) {
    const i = 2 * n;
    return (cpu, v) => {
      cpu.r[i] = v;
      cpu.r[i + 1] = 0;
    };
  }
  if (sz === 2) {
    const i = 2 * n;
    return (cpu, v) => {
      cpu.r[i] = (cpu.r[i] & ~0xffff) | (v & 0xffff);
    };
  }
  if (n >= 16) {
    const i = 2 * (n - 16);
    return (cpu, v) => {
      cpu.r[i] = (cpu.r[i] & ~0xff00) | ((v & 0xff) << 8);
    };
  }
  const i = 2 * n;
  return (cpu, v) => {
    cpu.r[i] = (cpu.r[i] & ~0xff) | (v & 0xff);
  };
}

// ---- memory of size 1, 2, 4 ----

export type Load = (mem: Memory, a: number) => number;
export type Store = (mem: Memory, a: number, v: number) => void;

const ld8: Load = (m, a) => m.read8(a);
const ld16: Load = (m, a) => m.read16(a);
const ld32: Load = (m, a) => m.read32(a);
const st8: Store = (m, a, v) => m.write8(a, v & 0xff);
const st16: Store = (m, a, v) => m.write16(a, v & 0xffff);
const st32: Store = (m, a, v) => m.write32(a, v);

export function load(sz: number): Load {
  return sz === 1 ? ld8 : sz === 2 ? ld16 : ld32;
}
export function store(sz: number): Store {
  return sz === 1 ? st8 : sz === 2 ? st16 : st32;
}

/** Sign-extend a size-sz value (zero-extended or int32) to int32. */
export function sext(v: number, sz: number): number {
  return sz === 1 ? (v << 24) >> 24 : sz === 2 ? (v << 16) >> 16 : v | 0;
}
