import { it } from 'vitest';
import type { Cpu } from '../../src/target/cpu.js';
import { compile } from '../../src/target/x86/exec/index.js';
import { ins, makeCpu, memOp, DATA } from './helpers.js';
it('bench', () => {
  const cpu = makeCpu();
  cpu.setAddr(3, DATA);
  const prog = [
    ins('add', ['rm', 'imm8'], 4, { rm: 0, imm: 1 }),
    ins('mov', ['rm', 'r'], 8, { mem: memOp({ base: 3, disp: 8 }), reg: 0 }),
    ins('add', ['rm', 'r'], 8, { rm: 2, reg: 0 }),
    ins('cmp', ['rm', 'r'], 4, { rm: 0, reg: 1 }),
    ins('jcc', ['rel8'], 8, { cond: 5, target: 0 }),
  ];
  const fns = prog.map((p) => compile(p));
  const single = (k: number) => {
    const f = fns[k]!;
    const t = performance.now();
    for (let n = 0; n < 20_000_000; n++) f(cpu);
    return (20_000_000 / (performance.now() - t) / 1000).toFixed(0);
  };
  cpu.setReg64(1, 1000000000n);
  for (let rep = 0; rep < 2; rep++) {
    console.log('single', [0, 1, 2, 3, 4].map(single).join(' '));
  }
  const hand = (i: number, b: number) => (cpu: Cpu) => { const r = cpu.r; const a = r[i]!; const v = (a + b) | 0; r[i] = v; r[i + 1] = 0; const f = cpu.flags; f.k = 1; f.sz = 4; f.a0 = a; f.b0 = b; f.r0 = v; f.aux = 0; };
  const h = hand(0, 1);
  const t = performance.now();
  for (let n = 0; n < 20_000_000; n++) h(cpu);
  console.log('hand add', (20_000_000 / (performance.now() - t) / 1000).toFixed(0));
});
