// The assembler DSL: encodings chosen like GNU as (checked against `as`),
// labels, forward references, relocations, data, errors.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Asm, EncodeError, rax, rbx, rcx, rdx, rsp, rbp, rsi, rdi, r8, r9, r11, r12, r13, r15,
  eax, ebx, ecx, edx, r9d, ax, al, bl, cl, ah, bh, spl, dil, r8b, r12b,
  cr0, cr3, cr4, dr0, dr6, dr7, qword, dword, word, byte, rip,
} from '../../src/kernel/asm.js';
import { decode, formatInstr } from '../../src/target/x86/decoder.js';
import type { Instr } from '../../src/target/x86/instr.js';

function gas(src: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'isa-as-'));
  try {
    writeFileSync(join(dir, 'a.s'), '.text\n' + src + '\n');
    execFileSync('as', ['--64', '-o', join(dir, 'a.o'), join(dir, 'a.s')]);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'a.o'), join(dir, 'a.bin')]);
    return new Uint8Array(readFileSync(join(dir, 'a.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function decodeAll(bytes: Uint8Array): Instr[] {
  const out: Instr[] = [];
  for (let off = 0; off < bytes.length;) {
    const d = decode((a) => bytes[a]!, off);
    if (d === 'ud') throw new Error(`ud at ${off}`);
    out.push(d);
    off = d.next;
  }
  return out;
}

const hex = (b: ArrayLike<number>): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

describe('asm: the same bytes as GNU as', () => {
  // [DSL, AT&T for gas]
  const cases: [(a: Asm) => void, string][] = [
    [(a) => a.push(rbp), 'push %rbp'],
    [(a) => a.push(r12), 'push %r12'],
    [(a) => a.mov(rbp, rsp), 'mov %rsp,%rbp'],
    [(a) => a.mov(rax, 1), 'mov $1,%rax'],
    [(a) => a.mov(rax, -1), 'mov $-1,%rax'],
    [(a) => a.mov(rax, 0xffffffff), 'mov $0xffffffff,%rax'],
    [(a) => a.mov(rax, 0x123456789abcdefn), 'movabs $0x123456789abcdef,%rax'],
    [(a) => a.mov(eax, 0x12345678), 'mov $0x12345678,%eax'],
    [(a) => a.mov(ax, 0x1234), 'mov $0x1234,%ax'],
    [(a) => a.mov(al, 0x12), 'mov $0x12,%al'],
    [(a) => a.mov(r9d, ecx), 'mov %ecx,%r9d'],
    [(a) => a.mov(qword(rbp, -8), rdi), 'mov %rdi,-8(%rbp)'],
    [(a) => a.mov(rax, qword(rbp, -8)), 'mov -8(%rbp),%rax'],
    [(a) => a.mov(rax, qword(r13, 0)), 'mov 0(%r13),%rax'],
    [(a) => a.mov(rax, qword(rbp, 0)), 'mov (%rbp),%rax'],
    [(a) => a.mov(rax, qword(rsp, 0)), 'mov (%rsp),%rax'],
    [(a) => a.mov(rax, qword(r12, 0x100)), 'mov 0x100(%r12),%rax'],
    [(a) => a.mov(qword({ base: rsp, index: rcx, scale: 8, disp: 16 }), rax), 'mov %rax,16(%rsp,%rcx,8)'],
    [(a) => a.mov(qword({ index: r11, scale: 4, disp: 0x40 }), rax), 'mov %rax,0x40(,%r11,4)'],
    [(a) => a.mov(rax, qword({ seg: 'gs', disp: 0x10 })), 'mov %gs:0x10,%rax'],
    [(a) => a.mov(rax, qword({ seg: 'gs', base: rax, disp: 8 })), 'mov %gs:8(%rax),%rax'],
    [(a) => a.mov(qword({ base: rip, disp: 0x20 }), rbx), 'mov %rbx,0x20(%rip)'],
    [(a) => a.mov(byte(rdi, 0), spl), 'mov %spl,(%rdi)'],
    [(a) => a.mov(ah, bh), 'mov %bh,%ah'],
    [(a) => a.mov(r12b, dil), 'mov %dil,%r12b'],
    [(a) => a.mov(qword(rax, 0), 5), 'movq $5,(%rax)'],
    [(a) => a.mov(dword(rax, 4), -2), 'movl $-2,4(%rax)'],
    [(a) => a.mov(word(rax, 4), 7), 'movw $7,4(%rax)'],
    [(a) => a.mov(byte(rax, 4), 0xff), 'movb $0xff,4(%rax)'],
    [(a) => a.movzx(eax, al), 'movzbl %al,%eax'],
    [(a) => a.movzx(rax, word(rdi, 2)), 'movzwq 2(%rdi),%rax'],
    [(a) => a.movsx(rax, bl), 'movsbq %bl,%rax'],
    [(a) => a.movsx(ecx, word(rsi, 0)), 'movswl (%rsi),%ecx'],
    [(a) => a.movsxd(rax, ecx), 'movslq %ecx,%rax'],
    [(a) => a.lea(rax, qword({ base: rdi, index: rsi, scale: 2, disp: -3 })), 'lea -3(%rdi,%rsi,2),%rax'],
    [(a) => a.add(rax, 1), 'add $1,%rax'],
    [(a) => a.add(rax, 0x1000), 'add $0x1000,%rax'],
    [(a) => a.add(eax, 0x1000), 'add $0x1000,%eax'],
    [(a) => a.add(al, 3), 'add $3,%al'],
    [(a) => a.sub(rsp, 128), 'sub $128,%rsp'],
    [(a) => a.sub(rsp, 127), 'sub $127,%rsp'],
    [(a) => a.and(eax, 0xff), 'and $0xff,%eax'],
    [(a) => a.and(eax, 0xffffffff), 'and $0xffffffff,%eax'],
    [(a) => a.and(rax, -4096), 'and $-4096,%rax'],
    [(a) => a.or(qword(rbx, 8), rcx), 'or %rcx,8(%rbx)'],
    [(a) => a.xor(eax, eax), 'xor %eax,%eax'],
    [(a) => a.adc(rdx, qword(rsi, 0)), 'adc (%rsi),%rdx'],
    [(a) => a.sbb(ebx, 1), 'sbb $1,%ebx'],
    [(a) => a.cmp(rax, rbx), 'cmp %rbx,%rax'],
    [(a) => a.cmp(byte(rdi, 0), 0), 'cmpb $0,(%rdi)'],
    [(a) => a.cmp(dword({ seg: 'gs', disp: 0x20 }), 0), 'cmpl $0,%gs:0x20'],
    [(a) => a.test(rax, rax), 'test %rax,%rax'],
    [(a) => a.test(al, 1), 'test $1,%al'],
    [(a) => a.test(eax, 0x100), 'test $0x100,%eax'],
    [(a) => a.test(ecx, 0x100), 'test $0x100,%ecx'],
    [(a) => a.test(dword(rdi, 0), 2), 'testl $2,(%rdi)'],
    [(a) => a.test(rcx, qword(rdi, 0)), 'test %rcx,(%rdi)'],
    [(a) => a.inc(rax), 'inc %rax'],
    [(a) => a.lock().inc(qword(rdi, 0)), 'lock incq (%rdi)'],
    [(a) => a.lock().dec(dword({ seg: 'gs', disp: 8 })), 'lock decl %gs:8'],
    [(a) => a.lock().add(qword(rdi, 0), 1), 'lock addq $1,(%rdi)'],
    [(a) => a.lock().sub(qword(rdi, 0), rax), 'lock sub %rax,(%rdi)'],
    [(a) => a.lock().or(dword(rdi, 0), 4), 'lock orl $4,(%rdi)'],
    [(a) => a.lock().and(dword(rdi, 0), -5), 'lock andl $-5,(%rdi)'],
    [(a) => a.lock().xor(byte(rdi, 0), 1), 'lock xorb $1,(%rdi)'],
    [(a) => a.lock().add(word(rdi, 0), 1), 'lock addw $1,(%rdi)'],
    [(a) => a.lock().add(word({ seg: 'gs', base: r12 }), ax), 'lock add %ax,%gs:(%r12)'],
    [(a) => a.neg(rdx), 'neg %rdx'],
    [(a) => a.not(byte(rax, 0)), 'notb (%rax)'],
    [(a) => a.shl(rax, 1), 'shl $1,%rax'],
    [(a) => a.shl(rax, 12), 'shl $12,%rax'],
    [(a) => a.shr(edx, cl), 'shr %cl,%edx'],
    [(a) => a.sar(qword(rbx, 0), 63), 'sarq $63,(%rbx)'],
    [(a) => a.rol(al, 4), 'rol $4,%al'],
    [(a) => a.ror(r8, 1), 'ror $1,%r8'],
    [(a) => a.imul(rbx), 'imul %rbx'],
    [(a) => a.imul(rax, rbx), 'imul %rbx,%rax'],
    [(a) => a.imul(rax, 3), 'imul $3,%rax'],
    [(a) => a.imul(rax, rbx, 1000), 'imul $1000,%rbx,%rax'],
    [(a) => a.mul(rcx), 'mul %rcx'],
    [(a) => a.div(qword(rsp, 8)), 'divq 8(%rsp)'],
    [(a) => a.idiv(ecx), 'idiv %ecx'],
    [(a) => a.cqo(), 'cqto'],
    [(a) => a.cdq(), 'cltd'],
    [(a) => a.cdqe(), 'cltq'],
    [(a) => a.xchg(rbx, rax), 'xchg %rax,%rbx'],
    [(a) => a.xchg(rax, rbx), 'xchg %rbx,%rax'],
    [(a) => a.xchg(rdx, rcx), 'xchg %rcx,%rdx'],
    [(a) => a.xchg(qword(rdi, 0), rax), 'xchg %rax,(%rdi)'],
    [(a) => a.lock().xadd(dword(rdi, 0), eax), 'lock xadd %eax,(%rdi)'],
    [(a) => a.lock().cmpxchg(qword(rdi, 0), rcx), 'lock cmpxchg %rcx,(%rdi)'],
    [(a) => a.lock().cmpxchg(dword(rdi, 0), edx), 'lock cmpxchg %edx,(%rdi)'],
    [(a) => a.set('e', al), 'sete %al'],
    [(a) => a.set('nz', byte(rdi, 0)), 'setne (%rdi)'],
    [(a) => a.cmov('ne', rax, rbx), 'cmovne %rbx,%rax'],
    [(a) => a.cmov('ge', ecx, dword(rdi, 0)), 'cmovge (%rdi),%ecx'],
    [(a) => a.jmp(rax), 'jmp *%rax'],
    [(a) => a.jmp(qword({ base: rax, index: rcx, scale: 8 })), 'jmp *(%rax,%rcx,8)'],
    [(a) => a.call(rax), 'call *%rax'],
    [(a) => a.call(qword(rax, 8)), 'call *8(%rax)'],
    [(a) => a.push(qword(rbp, 16)), 'pushq 16(%rbp)'],
    [(a) => a.pop(qword(rbp, 16)), 'popq 16(%rbp)'],
    [(a) => a.push(1), 'push $1'],
    [(a) => a.push(0x1000), 'push $0x1000'],
    [(a) => a.pop(r15), 'pop %r15'],
    [(a) => a.pushfq(), 'pushfq'],
    [(a) => a.popfq(), 'popfq'],
    [(a) => a.ret(), 'ret'],
    [(a) => a.leave(), 'leave'],
    [(a) => a.nop(), 'nop'],
    [(a) => a.nop(dword(rax, 0)), 'nopl 0(%rax)'],
    [(a) => a.pause(), 'pause'],
    [(a) => a.hlt(), 'hlt'],
    [(a) => a.cli(), 'cli'],
    [(a) => a.sti(), 'sti'],
    [(a) => a.iretq(), 'iretq'],
    [(a) => a.int3(), 'int3'],
    [(a) => a.ud2(), 'ud2'],
    [(a) => a.rdtsc(), 'rdtsc'],
    [(a) => a.rdmsr(), 'rdmsr'],
    [(a) => a.wrmsr(), 'wrmsr'],
    [(a) => a.swapgs(), 'swapgs'],
    [(a) => a.mov(cr3, rax), 'mov %rax,%cr3'],
    [(a) => a.mov(r8, cr0), 'mov %cr0,%r8'],
    [(a) => a.mov(cr4, r9), 'mov %r9,%cr4'],
    [(a) => a.mov(dr7, rax), 'mov %rax,%db7'],
    [(a) => a.mov(rax, dr6), 'mov %db6,%rax'],
    [(a) => a.mov(dr0, r15), 'mov %r15,%db0'],
    [(a) => a.mov(r8b, 1), 'mov $1,%r8b'],
    [(a) => a.add(r8b, al), 'add %al,%r8b'],
  ];

  it('each DSL call assembles to the bytes `as --64` produces', () => {
    const a = new Asm();
    const offs: number[] = [];
    for (const [f] of cases) { offs.push(a.offset); f(a); }
    const ours = a.finish().bytes;
    const theirs = gas(cases.map((c) => c[1]).join('\n'));
    const bad: string[] = [];
    // compare instruction by instruction using our offsets (lengths must agree for the rest to line up)
    let t = 0;
    for (let i = 0; i < cases.length; i++) {
      const o = ours.subarray(offs[i]!, i + 1 < offs.length ? offs[i + 1]! : ours.length);
      const g = theirs.subarray(t, t + o.length);
      if (hex(o) !== hex(g)) { bad.push(`${cases[i]![1]}: ours [${hex(o)}] gas [${hex(theirs.subarray(t, t + 12))}…]`); break; }
      t += o.length;
    }
    expect(bad).toEqual([]);
    expect(hex(ours)).toBe(hex(theirs));
  });
});

describe('asm: labels, references, relocations', () => {
  it('the contract example: func symbols, local labels, relocs with folded addends', () => {
    const a = new Asm();
    a.func('counter_inc', () => {
      a.push(rbp); a.mov(rbp, rsp);
      a.lock().inc(qword({ sym: 'counter_value' }));
      a.label('.again');
      a.j('ne', '.again');
      a.set('e', al); a.cmov('ne', rax, rbx);
      a.jmp('.again'); a.jmp(rax); a.call('printk'); a.call(rax); a.call(qword(rax, 8));
      a.mov(rax, a.addr('log_buf'));
      a.pop(rbp); a.ret();
    });
    a.label('global_label');
    a.align(16);
    const out = a.finish();
    expect(out.symbols).toEqual([
      { name: 'counter_inc', offset: 0, size: out.symbols[0]!.size, kind: 'func' },
      { name: 'global_label', offset: out.symbols[0]!.size, size: 0, kind: 'label' },
    ]);
    expect(out.bytes.length % 16).toBe(0);
    expect(out.bytes[out.bytes.length - 1]).toBe(0xcc);
    const ins = decodeAll(out.bytes.subarray(0, out.symbols[0]!.size));
    const text = ins.map(formatInstr);
    expect(text[2]).toMatch(/^lock incq 0x0\(%rip\)/);
    const incAt = ins[2]!;
    expect(out.relocs).toContainEqual({ offset: incAt.next - 4, kind: 'rel32', sym: 'counter_value', addend: -4 });
    const jne = ins[3]!;
    expect([jne.mnemonic, jne.len, jne.target]).toEqual(['jcc', 2, jne.addr]); // backward: rel8
    const jmp = ins.find((i) => i.mnemonic === 'jmp' && i.target !== 0)!;
    expect(jmp.target).toBe(jne.addr);
    const call = ins.find((i) => i.mnemonic === 'call' && i.len === 5)!;
    expect(out.relocs).toContainEqual({ offset: call.addr + 1, kind: 'rel32', sym: 'printk', addend: -4 });
    const movabs = ins.find((i) => i.mnemonic === 'mov' && i.len === 10)!;
    expect(out.relocs).toContainEqual({ offset: movabs.addr + 2, kind: 'abs64', sym: 'log_buf', addend: 0 });
    expect(out.relocs.length).toBe(3);
  });

  it('forward references inside the section are resolved by finish()', () => {
    const a = new Asm();
    a.func('f', () => {
      a.j('e', '.out');
      a.call('g');
      a.mov(eax, dword({ sym: 'data1', disp: 4 }));
      a.mov(dword({ sym: 'data1' }), 0x1234); // the imm32 after disp32 is folded into the addend
      a.label('.out');
      a.ret();
    });
    a.func('g', () => a.ret());
    a.object('data1', 8);
    const out = a.finish();
    expect(out.relocs).toEqual([]);
    const [je, call, load, store, ret] = decodeAll(out.bytes.subarray(0, out.symbols[0]!.size));
    const sym = (n: string): number => out.symbols.find((s) => s.name === n)!.offset;
    expect(je!.len).toBe(6); // forward: rel32
    expect(je!.target).toBe(ret!.addr);
    expect(call!.target).toBe(sym('g'));
    expect(load!.next + load!.mem!.disp).toBe(sym('data1') + 4);
    expect(store!.next + store!.mem!.disp).toBe(sym('data1'));
    expect(store!.immLo).toBe(0x1234);
  });

  it('local labels are scoped to their func', () => {
    const a = new Asm();
    a.func('f1', () => { a.label('.l'); a.nop(); a.jmp('.l'); });
    a.func('f2', () => { a.nop(); a.nop(); a.label('.l'); a.jmp('.l'); });
    const out = a.finish();
    const ins = decodeAll(out.bytes);
    expect(ins[1]!.target).toBe(0);
    expect(ins[4]!.target).toBe(out.symbols[1]!.offset + 2);
  });

  it('a local label used as an address becomes owner+offset', () => {
    const a = new Asm();
    a.func('f', () => { a.nop(); a.label('.x'); a.mov(rax, a.addr('.x')); a.push(a.addr('ext', 8)); });
    const out = a.finish();
    expect(out.relocs).toEqual([
      { offset: 3, kind: 'abs64', sym: 'f', addend: 1 },
      { offset: 12, kind: 'abs32s', sym: 'ext', addend: 8 },
    ]);
    expect(out.bytes[11]).toBe(0x68);
  });

  it('data: objects, quad/long/byte/ascii, addresses', () => {
    const d = new Asm({ fill: 0 });
    d.object('jiffies', 8);
    d.object('msg', 0, () => { d.ascii('hi\0'); });
    d.align(8);
    d.object('tbl', 0, () => { d.quad(0n); d.quad(d.addr('msg', 1)); d.long(5); d.long(d.addr('x')); d.byte(1); d.word(0x203); d.bytes([9, 8]); });
    const out = d.finish();
    expect(out.symbols).toEqual([
      { name: 'jiffies', offset: 0, size: 8, kind: 'object' },
      { name: 'msg', offset: 8, size: 3, kind: 'object' },
      { name: 'tbl', offset: 16, size: 8 + 8 + 4 + 4 + 1 + 2 + 2, kind: 'object' },
    ]);
    expect(Array.from(out.bytes.subarray(8, 16))).toEqual([0x68, 0x69, 0, 0, 0, 0, 0, 0]);
    expect(out.relocs).toEqual([
      { offset: 24, kind: 'abs64', sym: 'msg', addend: 1 },
      { offset: 36, kind: 'abs32s', sym: 'x', addend: 0 },
    ]);
    expect(Array.from(out.bytes.subarray(32, 36))).toEqual([5, 0, 0, 0]);
    expect(Array.from(out.bytes.subarray(40))).toEqual([1, 3, 2, 9, 8]);
  });

  it('errors: bad operands, undefined local labels, duplicates, illegal LOCK, AH with REX', () => {
    const a = new Asm();
    expect(() => a.lock().mov(qword(rax, 0), rbx)).toThrow(EncodeError);
    expect(() => a.lock().add(rax, rbx)).toThrow(EncodeError);
    expect(() => a.mov(ah, r8b)).toThrow(EncodeError);
    expect(() => a.mov(ah, byte(r13, 0))).toThrow(EncodeError);
    expect(() => a.mov(rax, ebx)).toThrow(EncodeError);
    expect(() => a.add(al, 0x100)).toThrow(EncodeError);
    expect(() => a.mov(eax, 0x100000000)).toThrow(EncodeError);
    expect(() => a.shl(rax, 256)).toThrow(EncodeError);
    expect(() => qword({ base: rax, index: rsp })).toThrow(EncodeError);
    expect(() => a.lea(rax, rbx as never)).toThrow(EncodeError);
    expect(() => a.j('xx', 'l')).toThrow(EncodeError);
    expect(a.offset).toBe(0); // nothing emitted by failed instructions
    a.func('f', () => a.jmp('.nowhere'));
    expect(() => a.func('f', () => a.ret())).toThrow(/twice/);
    expect(() => a.finish()).toThrow(/nowhere/);
  });

  it('lock prefix applies to the next instruction only', () => {
    const a = new Asm();
    a.lock().inc(qword(rdi, 0));
    a.inc(qword(rdi, 0));
    const [x, y] = decodeAll(a.finish().bytes);
    expect([x!.lock, y!.lock]).toEqual([true, false]);
  });

  it('uses the registers it is given (all 16 GPRs at every size)', () => {
    const a = new Asm();
    const regs = [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r11, r12, r13, r15];
    for (const r of regs) a.mov(r, qword({ base: r, index: r === rsp ? rbx : r, scale: 4, disp: 0x11 }));
    const ins = decodeAll(a.finish().bytes);
    ins.forEach((i, k) => {
      const n = regs[k]!.n;
      expect([i.reg, i.mem!.base, i.mem!.index, i.mem!.scale, i.mem!.disp]).toEqual([n, n, n === 4 ? 3 : n, 4, 0x11]);
    });
    void [ebx, ecx, edx, bl, cl];
  });
});
