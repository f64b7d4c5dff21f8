// Decode once per instruction address: the decoded, semantics-bound form is
// cached on the page that holds the instruction, and dropped when that page is
// written (Memory invalidates page.code on any write to it).

import { CpuFault, VEC_UD } from './fault.js';
import type { Block, Memory, Page } from './memory.js';
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

/** Instructions that end a block: control transfers, and anything that may need the run loop's attention. */
const ENDS_BLOCK = new Set([
  'jcc', 'jmp', 'call', 'ret', 'iretq', 'int3', 'ud2', 'hlt', 'sti', 'cli', 'popfq', 'wrmsr', 'mov_to_dr',
  'mov_to_cr', 'lidt', 'swapgs', '(bad)',
]);
/** Instructions that must start a block, so the retired count (TSC) is exact when they run. */
const STARTS_BLOCK = new Set(['rdtsc', 'rdmsr']);
const MAX_BLOCK = 64;

/** Decode the block that starts at addr (on page `page`), caching it when it stays inside the page. */
export function blockAt(mem: Memory, page: Page, addr: number): Block {
  const ins: BoundInstr[] = [];
  let a = addr;
  let cacheable = true;
  for (;;) {
    const i = decodeAt(mem, a);
    if (ins.length > 0 && STARTS_BLOCK.has(i.mnemonic)) break;
    ins.push(i);
    if ((a & 4095) + i.len > 4096) cacheable = false;
    if (ENDS_BLOCK.has(i.mnemonic) || ins.length >= MAX_BLOCK || STARTS_BLOCK.has(i.mnemonic)) break;
    a = i.next;
    if (Math.floor(a / 4096) !== page.vpn) break;
  }
  const block: Block = { start: addr, ins, valid: true, link0: undefined, link1: undefined, hits: 0, fn: undefined };
  if (cacheable) {
    if (page.blocks === null) page.blocks = new Array<Block | undefined>(4096);
    page.blocks[addr & 4095] = block;
  } else {
    block.valid = false; // never linked to: it may straddle a page whose writes it would miss
  }
  return block;
}
