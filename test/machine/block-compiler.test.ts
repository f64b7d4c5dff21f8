// Hot blocks run as one compiled function each (src/target/block-compiler.ts).
// That must change nothing the machine computes: the same instructions, the
// same interrupts at the same boundaries, faults at the exact instruction with
// the exact retired count. Each test runs the same inputs with block
// compilation on and off and compares.

import { describe, expect, it } from 'vitest';
import { qword, r12, r13, r8, r9, rax, rbx, rsp } from '../../src/kernel/asm.js';
import { buildKernelImage } from '../../src/kernel/image.js';
import { symbolAddr } from '../../src/kernel/link.js';
import { canon, createMachine } from '../../src/system.js';
import { COMPILE_AFTER } from '../../src/target/block-compiler.js';
import type { Machine } from '../../src/target/machine.js';
import { program, reg, setGate } from '../helpers/program.js';

function snapshot(m: Machine): unknown {
  return {
    now: m.now,
    trace: m.traceHash,
    cpus: m.cpus.map((c) => ({ rip: c.rip, retired: c.retired, regs: Array.from(c.r), flags: c.flags.read(), halted: c.halted })),
  };
}

describe('block compiler', () => {
  it('the kernel on 4 CPUs for 300 virtual ms: same trace, registers and memory with and without compiled blocks', () => {
    const image = buildKernelImage();
    const run = (compile: boolean): { m: Machine; snap: unknown; counter: bigint | undefined } => {
      const m = createMachine(image, { cpus: 4, seed: 7 });
      m.blockCompile = compile;
      m.run(300_000_000);
      return { m, snap: snapshot(m), counter: m.mem.peek64(canon(symbolAddr(image, 'counter_value'))) };
    };
    const on = run(true);
    const off = run(false);
    expect(on.m.blocksCompiled).toBeGreaterThan(50);
    expect(off.m.blocksCompiled).toBe(0);
    expect(on.snap).toEqual(off.snap);
    expect(on.counter).toBe(off.counter);
    expect(on.counter).toBeGreaterThan(0n);
  });

  it('a page fault in the middle of a compiled block: exact rip, retired count and registers', () => {
    const ITER = 150;
    const build = (compile: boolean): { m: Machine; load: number } => {
      const p = program((a) => {
        a.func('startup_64', () => {
          a.label('.loop');
          a.inc(r8);
          a.label('load');
          a.mov(rbx, qword(rax, 0)); // faults once rax walks off the mapped data
          a.add(rax, 8);
          a.inc(r9);
          a.jmp('.loop');
        });
        a.func('pf_handler', () => {
          a.mov(r13, qword(rsp, 8)); // the faulting rip
          a.mov(r12, 1);
          a.hlt();
        });
      });
      setGate(p, 14, p.sym('pf_handler'));
      const m = p.machine;
      m.blockCompile = compile;
      // rax: ITER qwords below the first unmapped address after .data
      let end = p.sym('test_stack_top');
      while (m.mem.peek(end, 1) !== undefined) end += 4096;
      end &= ~4095;
      m.cpus[0].setAddr(0, end - ITER * 8);
      m.run(1_000_000);
      return { m, load: p.sym('load') };
    };
    const on = build(true);
    const off = build(false);
    expect(ITER).toBeGreaterThan(COMPILE_AFTER); // the fault happens inside the compiled body
    expect(on.m.blocksCompiled).toBeGreaterThan(0);
    for (const { m, load } of [on, off]) {
      expect(reg(m, 0, 12)).toBe(1n);
      expect(Number(BigInt.asIntN(64, reg(m, 0, 13)))).toBe(load);
      expect(reg(m, 0, 8)).toBe(BigInt(ITER + 1)); // the faulting iteration's inc r8 retired
      expect(reg(m, 0, 9)).toBe(BigInt(ITER)); // its inc r9 did not
    }
    expect(snapshot(on.m)).toEqual(snapshot(off.m));
  });
});
