// Composition: the kernel image loaded into a machine. This is the one place
// that knows both the kernel (what bytes to run) and the machine (how to run them).

import type { Image } from './kernel/link.js';
import { type ClockPolicy, Machine, type LoadImage } from './target/machine.js';
import { PERM_RW, PERM_RX } from './target/memory.js';

/** Signed canonical number of an address the kernel linker gives as an unsigned bigint. */
export function canon(a: bigint): number {
  return Number(BigInt.asIntN(64, a));
}

export function loadImageOf(image: Image): LoadImage {
  return {
    entry: canon(image.entry),
    segments: image.sections.map((s) => ({
      addr: canon(s.addr),
      bytes: s.bytes,
      size: s.size,
      perms: s.perms === 'rx' ? PERM_RX : PERM_RW,
    })),
  };
}

export interface SystemOptions {
  cpus: number;
  seed?: number;
  clock?: ClockPolicy;
}

export function createMachine(image: Image, o: SystemOptions): Machine {
  return new Machine({ image: loadImageOf(image), cpus: o.cpus, seed: o.seed, clock: o.clock });
}
