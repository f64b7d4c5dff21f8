// Decode once per instruction address: the decoded, semantics-bound form is
// cached on the page that holds the instruction, and dropped when that page is
// written (Memory invalidates page.code on any write to it).

import { CpuFault, VEC_UD } from './fault.js';
import type { Memory } from './memory.js';
import { decode } from './x86/decoder.js';
import { compile } from './x86/exec/index.js';
import type { BoundInstr, Instr } from './x86/instr.js';

function udAt(addr: number): BoundInstr {
  const i: Instr = {
    addr, len: 0, next: addr, mnemonic: '(bad)', formId: -1, size: 8, lock: false, rep: 0,
    reg: -1, rm: -1, mem: null, immLo: 0, immHi: 0, cond: -1, target: 0,
  };
  return Object.assign(i, {
    exec: (): void => {
      throw new CpuFault(VEC_UD);
    },
  });
}

export function decodeAt(mem: Memory, addr: number): BoundInstr {
  const page = mem.fetchPage(addr);
  const off = addr & 4095;
  if (page.code !== null) {
    const hit = page.code[off];
    if (hit !== undefined) return hit;
  }
  const d = decode((a) => mem.fetch8(a), addr);
  const bound: BoundInstr = d === 'ud' ? udAt(addr) : Object.assign(d, { exec: compile(d) });
  // An instruction that crosses into the next page is not cached: a write to
  // the second page could not invalidate it.
  if (off + bound.len <= 4096) {
    if (page.code === null) page.code = new Array<BoundInstr | undefined>(4096);
    page.code[off] = bound;
  }
  return bound;
}
