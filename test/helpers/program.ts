// Build a small test program with the project's assembler and linker and load
// it into a machine: the same path the kernel image takes.
import { Asm } from '../../src/kernel/asm.js';
import { link, symbolAddr, type Image } from '../../src/kernel/link.js';
import { canon, createMachine } from '../../src/system.js';
import type { Machine } from '../../src/target/machine.js';

export interface Program {
  image: Image;
  machine: Machine;
  /** Signed canonical address of a symbol. */
  sym(name: string): number;
}

export function buildImage(text: (a: Asm) => void, data?: (d: Asm) => void): Image {
  const a = new Asm();
  text(a);
  const d = new Asm({ fill: 0 });
  if (data) data(d);
  d.object('idt_table', 256 * 16);
  d.object('test_stack', 0x4000);
  d.object('test_stack_top', 8);
  return link([
    { name: '.text', perms: 'rx', out: a.finish() },
    { name: '.data', perms: 'rw', out: d.finish() },
  ]);
}

export function program(text: (a: Asm) => void, data?: (d: Asm) => void, opts: { cpus?: number; seed?: number } = {}): Program {
  const image = buildImage(text, data);
  const machine = createMachine(image, { cpus: opts.cpus ?? 1, seed: opts.seed ?? 1 });
  const sym = (name: string): number => canon(symbolAddr(image, name));
  // Every CPU gets a stack (its own slice of test_stack) and the IDT; programs that want more do it themselves.
  for (const c of machine.cpus) {
    c.setAddr(4, sym('test_stack') + 0x4000 - c.id * 0x800);
    c.idtBase = sym('idt_table');
    c.idtLimit = 256 * 16 - 1;
  }
  return { image, machine, sym };
}

/** Write a 64-bit interrupt (type 0xE) or trap (0xF) gate for `vector` pointing at `handler`. */
export function setGate(p: Program, vector: number, handler: number, trap = false): void {
  const g = new Uint8Array(16);
  const dv = new DataView(g.buffer);
  const h = BigInt.asUintN(64, BigInt(handler));
  dv.setUint16(0, Number(h & 0xffffn), true);
  dv.setUint16(2, 0x10, true);
  dv.setUint8(5, 0x80 | (trap ? 0xf : 0xe));
  dv.setUint16(6, Number((h >> 16n) & 0xffffn), true);
  dv.setUint32(8, Number((h >> 32n) & 0xffffffffn), true);
  p.machine.mem.poke(p.sym('idt_table') + vector * 16, g);
}

export function reg(m: Machine, cpu: number, n: number): bigint {
  return m.cpus[cpu].getReg64(n);
}
