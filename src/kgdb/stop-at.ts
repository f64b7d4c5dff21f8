// `kgdb-sim serve --stop-at LOCATION`: run the machine until a CPU reaches a
// place in the kernel and leave it stopped there, so the debugger that
// connects finds it stopped at a chosen point (QEMU's -S, but at a kernel
// location rather than the reset vector). The stop-in-watchdog scenario is one
// such stop. The breakpoint used is the debug core's own and is gone again
// when the stop is reported: gdb sees a plain stop with the pc at LOCATION.

import { findSymbol, symbolize, type Image, type ImageSymbol } from '../kernel/link.js';
import type { DebugCore } from './debug-core.js';
import { canon } from '../system.js';
import { decode } from '../target/x86/decoder.js';
import type { Memory } from '../target/memory.js';

/** A location the user gave that does not exist, is not code, or was never reached. */
export class LocationError extends Error {}

/**
 * A location: `SYMBOL`, `SYMBOL+OFFSET` or `0xADDRESS` (offsets in hex with
 * 0x, else decimal). Inside a function the offset must start an instruction
 * (a breakpoint byte in the middle of one would corrupt it). Returns the
 * signed canonical address, or throws a message for the user.
 */
export function parseLocation(image: Image, mem: Memory, text: string): number {
  const t = text.trim();
  if (/^0x[0-9a-fA-F]{1,16}$/.test(t)) {
    const a = canon(BigInt(t));
    if (mem.peek(a, 1) === undefined) throw new LocationError(`${t} is not mapped`);
    // An address is held to the same rules as SYMBOL+OFFSET: a breakpoint
    // byte in data or inside an instruction would corrupt what the kernel reads.
    const s = symbolize(image, BigInt.asUintN(64, BigInt(a)));
    if (s === undefined) throw new LocationError(`${t} is not in any kernel function`);
    return codeAt(mem, s.symbol, s.offset, t);
  }
  const m = /^([A-Za-z_.$][\w.$]*)(?:\s*\+\s*(0x[0-9a-fA-F]+|\d+))?$/.exec(t);
  if (m === null) throw new LocationError(`bad location "${text}" (SYMBOL, SYMBOL+OFFSET or 0xADDRESS)`);
  const sym = findSymbol(image, m[1]);
  if (sym === undefined) throw new LocationError(`no symbol "${m[1]}" in the kernel image`);
  return codeAt(mem, sym, m[2] === undefined ? 0 : Number(m[2]), t);
}

/** `sym`+`off` as an address, if it is code and starts an instruction. */
function codeAt(mem: Memory, sym: ImageSymbol, off: number, t: string): number {
  if (sym.kind !== 'func' && sym.kind !== 'label') throw new LocationError(`${t} is not code (${sym.name} is an object)`);
  if (sym.size > 0 && off >= sym.size) throw new LocationError(`${t} is beyond the end of ${sym.name} (size ${sym.size})`);
  const start = canon(sym.addr);
  if (mem.peek(start + off, 1) === undefined) throw new LocationError(`${t} is not mapped`);
  // Walk the instructions from the symbol (a label has no size): the walk ends
  // at an undecodable byte or at unmapped memory, so it is bounded by the text.
  let at = start;
  const fetch8 = (a: number): number => {
    const b = mem.peek(a, 1);
    if (b === undefined) throw new LocationError(`${t} is not at an instruction boundary of ${sym.name}`);
    return b[0];
  };
  while (at < start + off) {
    const i = decode(fetch8, at);
    if (i === 'ud') break;
    at = i.next;
  }
  if (at !== start + off) throw new LocationError(`${t} is not at an instruction boundary of ${sym.name}`);
  return at;
}

/** How long (virtual time) `serve --stop-at` runs the machine waiting for the location. */
export const STOP_AT_WITHIN_NS = 60e9;

/**
 * Run a machine that is running (no stop in progress) until a CPU reaches
 * `addr` within `withinNs` of virtual time, and leave it stopped there with
 * its rip at `addr`. Call before a gdb target listens for stops. Returns the
 * stopped CPU, or throws if no CPU got there in time.
 */
export function stopAt(core: DebugCore, addr: number, withinNs: number, what: string): number {
  const m = core.machine;
  core.sw.set(addr);
  core.sw.activate();
  const deadline = m.now + withinNs;
  try {
    while (core.state === 'running' && m.now < deadline) {
      const r = m.run(deadline, 200_000);
      if (r === 'idle-forever') break;
    }
    if (core.state === 'entering') core.completeEntry();
  } finally {
    core.sw.remove(addr);
  }
  if (core.state !== 'stopped' || core.entry === null) {
    throw new LocationError(`--stop-at ${what}: no CPU got there within ${withinNs / 1e9} virtual s`);
  }
  const cpu = m.cpus[core.entry.cpu];
  if (core.entry.swbreakAt === addr) {
    cpu.rip = addr; // back over the int3 that is gone now: a plain stop at addr
    core.entry.swbreakAt = undefined;
  }
  return cpu.id;
}
