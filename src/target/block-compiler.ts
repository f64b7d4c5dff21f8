// Compiles a hot block into one function that calls its instructions' exec
// closures in order. The instructions' semantics are untouched (the same
// closures run, in the same order, with the same attention checks): what goes
// is the run loop's per-instruction work — loading `list[i].exec`, a call V8
// sees as megamorphic (every instruction form passes through that one call
// site), and the loop itself. In a block's own function every call site has
// one target, which V8 can inline. Source text is unique per block (its
// address), so each block gets its own compiled code and feedback.

import type { Block, BlockFn } from './memory.js';
import type { Cpu } from './cpu.js';
import type { ExecFn } from './x86/instr.js';

/** Entries into a block before it is compiled (cold code stays interpreted). */
export const COMPILE_AFTER = 64;

/** Compile `blk` (at least two instructions). */
export function compileBlock(blk: Block): BlockFn {
  const n = blk.ins.length;
  const params: string[] = [];
  const lines: string[] = [`// block at ${blk.start}`, 'return function (c) {', 'let p = 0;', 'try {'];
  for (let i = 0; i < n; i++) {
    params.push(`e${i}`, `x${i}`);
    if (i < n - 1) {
      lines.push(`p = ${i}; e${i}(c); if (c.attention) { c.rip = x${i}; return ${i + 1}; }`);
    } else {
      // The last instruction (often a branch) sets rip itself; its fall-through is set first.
      lines.push(`p = ${i}; c.rip = x${i}; e${i}(c); return ${n};`);
    }
  }
  lines.push('} catch (err) { c.blockPos = p; throw err; }', '};');
  const factory = new Function(...params, lines.join('\n')) as (...args: Array<ExecFn | number>) => (c: Cpu) => number;
  const args: Array<ExecFn | number> = [];
  for (const ins of blk.ins) args.push(ins.exec, ins.next);
  return factory(...args);
}
