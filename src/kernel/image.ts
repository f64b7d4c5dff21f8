// The kernel image: every subsystem assembled into .text/.data/.bss and
// linked at Linux's addresses. buildKernelImage() is memoised: the image is
// a pure function of the sources, so it is built once per process.

import { Asm } from './asm.js';
import { link, type Image } from './link.js';
import { writeElf } from './elf.js';
import type { Sections } from './kbuild.js';
import { emitBoot } from './boot.js';
import { emitEntry } from './entry.js';
import { emitTraps } from './traps.js';
import { emitSpinlock } from './spinlock.js';
import { emitSched } from './sched.js';
import { emitProcess } from './process.js';
import { emitTime } from './time.js';
import { emitPrintk } from './printk.js';
import { emitPanic } from './panic.js';
import { emitKgdb } from './kgdb.js';
import { emitDemo } from './demo.js';
import { emitWatchdog } from './watchdog.js'; // issue 5: clocksource watchdog + kernel event ring
import { emitSoftlockup } from './softlockup.js'; // issue 5: softlockup detector, sched clock
import { emitHwBreakpoint } from './hw_breakpoint.js'; // issue 4
import { emitPerf } from './perf.js'; // issue 4

export type { Image, ImageSection, ImageSymbol } from './link.js';
export { findSymbol, symbolAddr, symbolize, formatAddr } from './link.js';

/** Assemble and link the kernel (not memoised: see buildKernelImage). */
export function assembleKernel(): Image {
  const k: Sections = { text: new Asm(), data: new Asm({ fill: 0 }), bss: new Asm({ fill: 0 }) };
  // Order is the layout order in .text: boot first, like head_64.S.
  emitBoot(k);
  emitEntry(k);
  emitTraps(k);
  emitTime(k);
  emitSched(k);
  emitProcess(k);
  emitSpinlock(k);
  emitPrintk(k);
  emitPanic(k);
  emitKgdb(k);
  emitDemo(k);
  emitWatchdog(k); // issue 5
  emitSoftlockup(k); // issue 5
  emitHwBreakpoint(k); // issue 4: hw breakpoint slots (reserve_bp_slot, install IPI, #DB handler)
  emitPerf(k); // issue 4: the perf_bp kernel thread
  return link([
    { name: '.text', perms: 'rx', out: k.text.finish() },
    { name: '.data', perms: 'rw', out: k.data.finish() },
    { name: '.bss', perms: 'rw', out: k.bss.finish(), nobits: true },
  ]);
}

let cached: Image | null = null;

/** The kernel image (built on first use). Treat it as read-only. */
export function buildKernelImage(): Image {
  if (cached === null) cached = assembleKernel();
  return cached;
}

/** The ELF symbol file for the kernel image (`kgdb-sim elf -o FILE`). */
export function buildKernelElf(): Uint8Array {
  return writeElf(buildKernelImage());
}
