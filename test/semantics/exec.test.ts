// Non-ALU semantics: data movement, stack, control transfer, conditions,
// atomics, divide, system instructions, and precise exceptions.
import { describe, expect, it } from 'vitest';
import { CpuFault, VEC_BP, VEC_DE, VEC_GP, VEC_PF, VEC_UD } from '../../src/target/fault.js';
import { PERM_R, PERM_RW } from '../../src/target/memory.js';
import { decode } from '../../src/target/x86/decoder.js';
import { compile } from '../../src/target/x86/exec/index.js';
import { FL_AF, FL_ARITH, FL_CF, FL_IF, FL_OF, FL_PF, FL_SF, FL_ZF } from '../../src/target/x86/flags.js';
import { AH, BH, NOREG, SEG_GS, type OpSize } from '../../src/target/x86/instr.js';
import { CODE, DATA, STACK_TOP, exec, hex, ins, makeCpu, memOp } from './helpers.js';

const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7, R8 = 8, R12 = 12;

function fault(f: () => void): CpuFault {
  try {
    f();
  } catch (e) {
    if (e instanceof CpuFault) return e;
    throw e;
  }
  throw new Error('no fault');
}

/** Reference condition evaluation from materialised RFLAGS (SDM table). */
function cond(cc: number, fl: number): boolean {
  const cf = (fl & FL_CF) !== 0, zf = (fl & FL_ZF) !== 0, sf = (fl & FL_SF) !== 0, of = (fl & FL_OF) !== 0;
  const pf = (fl & FL_PF) !== 0;
  const t = [of, cf, zf, cf || zf, sf, pf, sf !== of, zf || sf !== of][cc >> 1]!;
  return (cc & 1) !== 0 ? !t : t;
}

describe('mov', () => {
  it('32-bit register writes zero the upper half; 8/16-bit writes preserve the rest', () => {
    const cpu = makeCpu();
    cpu.setReg64(RAX, 0x1111111122222222n);
    cpu.setReg64(RBX, 0xffffffffffffffffn);
    exec(cpu, ins('mov', ['rm', 'r'], 4, { rm: RBX, reg: RAX }));
    expect(hex(cpu.getReg64(RBX))).toBe('0x22222222');
    cpu.setReg64(RBX, 0xffffffffffffffffn);
    exec(cpu, ins('mov', ['rm', 'r'], 2, { rm: RBX, reg: RAX }));
    expect(hex(cpu.getReg64(RBX))).toBe('0xffffffffffff2222');
    exec(cpu, ins('mov', ['rm', 'r'], 1, { rm: RBX, reg: RAX }));
    expect(hex(cpu.getReg64(RBX))).toBe('0xffffffffffff2222'.slice(0, -2) + '22');
    // AH..BH: bits 8-15
    cpu.setReg64(RCX, 0x0102030405060708n);
    exec(cpu, ins('mov', ['rm', 'r'], 1, { rm: BH, reg: RCX }));
    expect(hex(cpu.getReg64(RBX))).toBe('0xffffffffffff0822');
    exec(cpu, ins('mov', ['r', 'rm'], 1, { reg: AH, rm: BH }));
    expect(hex(cpu.getReg64(RAX))).toBe('0x1111111122220822');
    // SPL..DIL with REX are registers 4-7 (low byte)
    cpu.setReg64(RSI, 0xaaaan);
    exec(cpu, ins('mov', ['o', 'imm8'], 1, { reg: RSI, imm: 0x55 }));
    expect(hex(cpu.getReg64(RSI))).toBe('0xaa55');
    // mov r32, imm32 zero-extends; mov r64, imm32 sign-extends; movabs
    exec(cpu, ins('mov', ['o', 'imm32'], 4, { reg: R8, imm: -1 }));
    expect(hex(cpu.getReg64(R8))).toBe('0xffffffff');
    exec(cpu, ins('mov', ['rm', 'imm32'], 8, { rm: R8, imm: -2 }));
    expect(hex(cpu.getReg64(R8))).toBe('0xfffffffffffffffe');
    exec(cpu, ins('mov', ['o', 'imm64'], 8, { reg: R12, imm: 0x123456789abcdef0n }));
    expect(hex(cpu.getReg64(R12))).toBe('0x123456789abcdef0');
  });

  it('memory forms: base+index*scale+disp, rip-relative, gs-relative, sizes', () => {
    const cpu = makeCpu();
    cpu.setAddr(RBX, DATA);
    cpu.setAddr(RCX, 3);
    cpu.setReg64(RAX, 0x8877665544332211n);
    // mov [rbx + rcx*8 + 0x10], rax
    exec(cpu, ins('mov', ['rm', 'r'], 8, { mem: memOp({ base: RBX, index: RCX, scale: 8, disp: 0x10 }), reg: RAX }));
    expect(cpu.mem.peek64(DATA + 0x28)).toBe(0x8877665544332211n);
    // mov edx, [rbx + 0x28] zero-extends
    cpu.setReg64(RDX, -1n);
    exec(cpu, ins('mov', ['r', 'rm'], 4, { reg: RDX, mem: memOp({ base: RBX, disp: 0x28 }) }));
    expect(hex(cpu.getReg64(RDX))).toBe('0x44332211');
    // mov dword [rbx+0x28], imm32 only touches 4 bytes
    exec(cpu, ins('mov', ['rm', 'imm32'], 4, { mem: memOp({ base: RBX, disp: 0x28 }), imm: 0 }));
    expect(cpu.mem.peek64(DATA + 0x28)).toBe(0x8877665500000000n);
    // mov qword [mem], imm32 sign-extends
    exec(cpu, ins('mov', ['rm', 'imm32'], 8, { mem: memOp({ base: RBX, disp: 0x30 }), imm: -5 }));
    expect(cpu.mem.peek64(DATA + 0x30)).toBe(0xfffffffffffffffbn);
    // negative displacement
    cpu.setAddr(RSI, DATA + 0x100);
    exec(cpu, ins('mov', ['r', 'rm'], 8, { reg: RDI, mem: memOp({ base: RSI, disp: -0xd8 }) }));
    expect(hex(cpu.getReg64(RDI))).toBe('0x8877665500000000');
    // rip-relative: next + disp
    const i = ins('mov', ['r', 'rm'], 8, { reg: RDI, mem: memOp({ ripRel: true, disp: 0 }), len: 7 });
    i.mem!.disp = DATA + 0x30 - i.next;
    exec(cpu, i);
    expect(hex(cpu.getReg64(RDI))).toBe('0xfffffffffffffffb');
    // gs-relative
    cpu.gsBase = DATA + 0x20;
    exec(cpu, ins('mov', ['r', 'rm'], 8, { reg: RDI, mem: memOp({ seg: SEG_GS, disp: 0x10 }) }));
    expect(hex(cpu.getReg64(RDI))).toBe('0xfffffffffffffffb');
    // kernel-half addresses (signed canonical)
    cpu.mem.map(CODE, 0x1000, PERM_RW);
    cpu.setAddr(RBX, CODE);
    exec(cpu, ins('mov', ['rm', 'r'], 8, { mem: memOp({ base: RBX, disp: 8 }), reg: RAX }));
    expect(cpu.mem.peek64(CODE + 8)).toBe(0x8877665544332211n);
  });

  it('non-canonical effective address raises #GP(0)', () => {
    const cpu = makeCpu();
    cpu.setReg64(RBX, 0x0000800000000000n);
    const f = fault(() => exec(cpu, ins('mov', ['r', 'rm'], 8, { reg: RAX, mem: memOp({ base: RBX }) })));
    expect(f.vector).toBe(VEC_GP);
    expect(f.errorCode).toBe(0);
    // wraparound to a canonical address is fine: -8 + 0x10008
    cpu.setReg64(RBX, -8n);
    cpu.setReg64(RCX, 0x10008n);
    exec(cpu, ins('mov', ['r', 'rm'], 8, { reg: RAX, mem: memOp({ base: RBX, index: RCX, scale: 1 }) }));
  });

  it('movzx / movsx / movsxd', () => {
    const cpu = makeCpu();
    cpu.setReg64(RAX, 0xfedcba9876543280n);
    cpu.setReg64(RBX, -1n);
    exec(cpu, ins('movzx', ['r', 'rm8'], 4, { reg: RBX, rm: RAX }));
    expect(hex(cpu.getReg64(RBX))).toBe('0x80');
    exec(cpu, ins('movsx', ['r', 'rm8'], 8, { reg: RBX, rm: RAX }));
    expect(hex(cpu.getReg64(RBX))).toBe('0xffffffffffffff80');
    exec(cpu, ins('movsx', ['r', 'rm8'], 4, { reg: RBX, rm: RAX }));
    expect(hex(cpu.getReg64(RBX))).toBe('0xffffff80');
    exec(cpu, ins('movzx', ['r', 'rm16'], 8, { reg: RBX, rm: RAX }));
    expect(hex(cpu.getReg64(RBX))).toBe('0x3280');
    exec(cpu, ins('movsx', ['r', 'rm16'], 8, { reg: RBX, rm: RAX }));
    expect(hex(cpu.getReg64(RBX))).toBe('0x3280');
    exec(cpu, ins('movsxd', ['r', 'rm32'], 8, { reg: RBX, rm: RAX }));
    expect(hex(cpu.getReg64(RBX))).toBe('0x76543280');
    cpu.setReg64(RAX, 0x80000000n);
    exec(cpu, ins('movsxd', ['r', 'rm32'], 8, { reg: RBX, rm: RAX }));
    expect(hex(cpu.getReg64(RBX))).toBe('0xffffffff80000000');
    cpu.setReg64(RCX, 0xaaaaaaaaaaaaaaaan);
    exec(cpu, ins('movzx', ['r', 'rm8'], 2, { reg: RCX, rm: AH }));
    expect(hex(cpu.getReg64(RCX))).toBe('0xaaaaaaaaaaaa0000');
    cpu.mem.poke(DATA, new Uint8Array([0xfe, 0xff]));
    cpu.setAddr(RSI, DATA);
    exec(cpu, ins('movsx', ['r', 'rm16'], 4, { reg: RCX, mem: memOp({ base: RSI }) }));
    expect(hex(cpu.getReg64(RCX))).toBe('0xfffffffe');
  });

  it('lea computes without accessing memory, truncates to the operand size', () => {
    const cpu = makeCpu();
    cpu.setReg64(RBX, 0x7fff_ffff_fff0n);
    cpu.setReg64(RCX, 4n);
    exec(cpu, ins('lea', ['r', 'm'], 8, { reg: RAX, mem: memOp({ base: RBX, index: RCX, scale: 8, disp: 0x100 }) }));
    expect(hex(cpu.getReg64(RAX))).toBe('0x800000000110'); // non-canonical is fine for lea
    exec(cpu, ins('lea', ['r', 'm'], 4, { reg: RAX, mem: memOp({ base: RBX, disp: 0x20 }) }));
    expect(hex(cpu.getReg64(RAX))).toBe('0x10');
    cpu.setReg64(RBX, -1n);
    exec(cpu, ins('lea', ['r', 'm'], 8, { reg: RAX, mem: memOp({ base: RBX, disp: -1 }) }));
    expect(hex(cpu.getReg64(RAX))).toBe('0xfffffffffffffffe');
    exec(cpu, ins('lea', ['r', 'm'], 8, { reg: RAX, mem: memOp({ index: RCX, scale: 2, disp: 1 }) }));
    expect(hex(cpu.getReg64(RAX))).toBe('0x9');
    const i = ins('lea', ['r', 'm'], 8, { reg: RAX, mem: memOp({ ripRel: true, disp: -0x10 }), len: 7 });
    exec(cpu, i);
    expect(cpu.addrOf(RAX)).toBe(CODE + 7 - 0x10);
    cpu.setReg64(RDX, 0x1234n);
    exec(cpu, ins('lea', ['r', 'm'], 2, { reg: RDX, mem: memOp({ index: RCX, scale: 1, disp: 0x10000 }) }));
    expect(hex(cpu.getReg64(RDX))).toBe('0x4');
  });

  it('cdq / cqo / cdqe', () => {
    const cpu = makeCpu();
    cpu.setReg64(RAX, 0x1_8000_0000n);
    cpu.setReg64(RDX, 0x5555_5555_5555_5555n);
    exec(cpu, ins('cdq', [], 4));
    expect(hex(cpu.getReg64(RDX))).toBe('0xffffffff');
    exec(cpu, ins('cqo', [], 8));
    expect(hex(cpu.getReg64(RDX))).toBe('0x0');
    exec(cpu, ins('cdqe', [], 8));
    expect(hex(cpu.getReg64(RAX))).toBe('0xffffffff80000000');
    exec(cpu, ins('cqo', [], 8));
    expect(hex(cpu.getReg64(RDX))).toBe('0xffffffffffffffff');
  });
});

describe('stack and control transfer', () => {
  it('push / pop, including push rsp and pop rsp', () => {
    const cpu = makeCpu();
    cpu.setReg64(RBX, 0x1122334455667788n);
    exec(cpu, ins('push', ['o'], 8, { reg: RBX }));
    expect(cpu.addrOf(RSP)).toBe(STACK_TOP - 8);
    expect(cpu.mem.peek64(STACK_TOP - 8)).toBe(0x1122334455667788n);
    exec(cpu, ins('push', ['imm8'], 8, { imm: -1 }));
    expect(cpu.mem.peek64(STACK_TOP - 16)).toBe(0xffffffffffffffffn);
    exec(cpu, ins('push', ['o'], 8, { reg: RSP }));
    expect(cpu.mem.peek64(STACK_TOP - 24)).toBe(BigInt(STACK_TOP - 16));
    exec(cpu, ins('pop', ['o'], 8, { reg: RCX }));
    expect(cpu.getReg64(RCX)).toBe(BigInt(STACK_TOP - 16));
    exec(cpu, ins('pop', ['o'], 8, { reg: RDX }));
    expect(hex(cpu.getReg64(RDX))).toBe('0xffffffffffffffff');
    cpu.setAddr(RSI, DATA);
    cpu.mem.poke64(DATA + 8, 0xabcdn);
    exec(cpu, ins('push', ['rm'], 8, { mem: memOp({ base: RSI, disp: 8 }) }));
    exec(cpu, ins('pop', ['rm'], 8, { mem: memOp({ base: RSI, disp: 16 }) }));
    expect(cpu.mem.peek64(DATA + 16)).toBe(0xabcdn);
    expect(cpu.addrOf(RSP)).toBe(STACK_TOP - 8);
    cpu.mem.poke64(STACK_TOP - 8, 0x20000n);
    exec(cpu, ins('pop', ['o'], 8, { reg: RSP }));
    expect(cpu.addrOf(RSP)).toBe(0x20000);
  });

  it('call / ret / jmp / leave', () => {
    const cpu = makeCpu();
    const target = CODE + 0x1000;
    const c = ins('call', ['rel32'], 8, { target, len: 5 });
    exec(cpu, c);
    expect(cpu.rip).toBe(target);
    expect(cpu.addrOf(RSP)).toBe(STACK_TOP - 8);
    expect(cpu.mem.peek64(STACK_TOP - 8)).toBe(BigInt.asUintN(64, BigInt(CODE + 5)));
    exec(cpu, ins('ret', [], 8));
    expect(cpu.rip).toBe(CODE + 5);
    expect(cpu.addrOf(RSP)).toBe(STACK_TOP);
    // indirect call through memory and register
    cpu.setAddr(RSI, DATA);
    cpu.mem.poke64(DATA, BigInt.asUintN(64, BigInt(target)));
    exec(cpu, ins('call', ['rm'], 8, { mem: memOp({ base: RSI }) }));
    expect(cpu.rip).toBe(target);
    cpu.setAddr(RAX, CODE + 0x40);
    exec(cpu, ins('jmp', ['rm'], 8, { rm: RAX }));
    expect(cpu.rip).toBe(CODE + 0x40);
    exec(cpu, ins('jmp', ['rel8'], 8, { target: CODE - 2 }));
    expect(cpu.rip).toBe(CODE - 2);
    // non-canonical indirect target: #GP, nothing changed
    cpu.setReg64(RAX, 0x8000_0000_0000_0000n);
    const sp = cpu.addrOf(RSP);
    expect(fault(() => exec(cpu, ins('call', ['rm'], 8, { rm: RAX }))).vector).toBe(VEC_GP);
    expect(cpu.addrOf(RSP)).toBe(sp);
    // push rbp; mov rbp, rsp; sub rsp, 0x20; leave
    cpu.setReg64(RBP, 0x4242n);
    exec(cpu, ins('push', ['o'], 8, { reg: RBP }));
    exec(cpu, ins('mov', ['rm', 'r'], 8, { rm: RBP, reg: RSP }));
    exec(cpu, ins('sub', ['rm', 'imm8'], 8, { rm: RSP, imm: 0x20 }));
    exec(cpu, ins('leave', [], 8));
    expect(cpu.addrOf(RSP)).toBe(sp);
    expect(cpu.getReg64(RBP)).toBe(0x4242n);
  });

  it('jcc / setcc / cmovcc over all 16 conditions, from materialised and lazy flags', () => {
    const cpu = makeCpu();
    const combos: number[] = [];
    for (let m = 0; m < 32; m++) {
      combos.push((m & 1 ? FL_CF : 0) | (m & 2 ? FL_ZF : 0) | (m & 4 ? FL_SF : 0) | (m & 8 ? FL_OF : 0) | (m & 16 ? FL_PF : 0));
    }
    const check = (fl: number): void => {
      for (let cc = 0; cc < 16; cc++) {
        const want = cond(cc, fl);
        cpu.rip = 0;
        exec(cpu, ins('jcc', ['rel32'], 8, { cond: cc, target: CODE + 0x100, len: 6 }));
        expect(cpu.rip, `j cc=${cc} fl=${fl.toString(16)}`).toBe(want ? CODE + 0x100 : CODE + 6);
        cpu.setReg64(RBX, 0xffffn);
        exec(cpu, ins('setcc', ['rm'], 1, { cond: cc, rm: RBX }));
        expect(cpu.getReg64(RBX)).toBe(want ? 0xff01n : 0xff00n);
        cpu.setReg64(RCX, 0xffff_ffff_0000_0000n);
        cpu.setReg64(RDX, 7n);
        exec(cpu, ins('cmovcc', ['r', 'rm'], 4, { cond: cc, reg: RCX, rm: RDX }));
        expect(cpu.getReg64(RCX)).toBe(want ? 7n : 0n); // 32-bit cmov zero-extends either way
        cpu.setReg64(RCX, 0xffff_ffff_0000_0000n);
        exec(cpu, ins('cmovcc', ['r', 'rm'], 8, { cond: cc, reg: RCX, rm: RDX }));
        expect(cpu.getReg64(RCX)).toBe(want ? 7n : 0xffff_ffff_0000_0000n);
      }
    };
    for (const fl of combos) {
      cpu.flags.write(fl | 2);
      check(fl);
    }
    // lazy flags: cmp / sbb / logic / inc at every size; test(cc) must agree with read()
    const vals = [0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0x7fffffffn, 0x80000000n, 0xffffffffn,
      0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0x123456789n];
    for (const size of [1, 2, 4, 8] as OpSize[]) {
      for (const a of vals) {
        for (const b of vals) {
          for (const op of ['cmp', 'sbb', 'test', 'add']) {
            cpu.flags.write(2 | FL_CF);
            cpu.setReg64(RSI, a);
            cpu.setReg64(RDI, b);
            exec(cpu, ins(op, ['rm', 'r'], size, { rm: RSI, reg: RDI }));
            const fl = cpu.flags.read() & FL_ARITH;
            for (let cc = 0; cc < 16; cc++) {
              expect(cpu.flags.test(cc), `${op}${size * 8} ${a} ${b} cc=${cc}`).toBe(cond(cc, fl));
            }
          }
        }
      }
    }
  });
});

describe('atomics', () => {
  it('xchg register/register and register/memory', () => {
    const cpu = makeCpu();
    cpu.setReg64(RAX, 1n);
    cpu.setReg64(RBX, 0xffff_ffff_ffff_ffffn);
    exec(cpu, ins('xchg', ['o', 'acc'], 4, { reg: RBX, rm: RAX }));
    expect(cpu.getReg64(RAX)).toBe(0xffffffffn);
    expect(cpu.getReg64(RBX)).toBe(1n);
    cpu.setAddr(RSI, DATA);
    cpu.mem.poke64(DATA, 0x1234n);
    exec(cpu, ins('xchg', ['rm', 'r'], 8, { mem: memOp({ base: RSI }), reg: RBX, lock: true }));
    expect(cpu.getReg64(RBX)).toBe(0x1234n);
    expect(cpu.mem.peek64(DATA)).toBe(1n);
  });

  it('xadd', () => {
    const cpu = makeCpu();
    cpu.setAddr(RSI, DATA);
    cpu.mem.poke64(DATA, 0xffff_ffffn);
    cpu.setReg64(RAX, 1n);
    exec(cpu, ins('xadd', ['rm', 'r'], 4, { mem: memOp({ base: RSI }), reg: RAX, lock: true }));
    expect(cpu.mem.peek64(DATA)).toBe(0n);
    expect(cpu.getReg64(RAX)).toBe(0xffff_ffffn);
    expect(cpu.flags.read() & (FL_CF | FL_ZF)).toBe(FL_CF | FL_ZF);
    cpu.setReg64(RBX, 5n);
    cpu.setReg64(RCX, 7n);
    exec(cpu, ins('xadd', ['rm', 'r'], 8, { rm: RBX, reg: RCX }));
    expect(cpu.getReg64(RBX)).toBe(12n);
    expect(cpu.getReg64(RCX)).toBe(5n);
  });

  it('cmpxchg success and failure', () => {
    const cpu = makeCpu();
    cpu.setAddr(RSI, DATA);
    cpu.mem.poke64(DATA, 0n);
    cpu.setReg64(RAX, 0n);
    cpu.setReg64(RCX, 1n);
    // lock cmpxchg [rsi], ecx: succeeds (the spin lock)
    exec(cpu, ins('cmpxchg', ['rm', 'r'], 4, { mem: memOp({ base: RSI }), reg: RCX, lock: true }));
    expect(cpu.mem.peek64(DATA)).toBe(1n);
    expect(cpu.flags.read() & FL_ZF).toBe(FL_ZF);
    expect(cpu.getReg64(RAX)).toBe(0n);
    // again: fails, rAX gets the current value, memory unchanged
    cpu.setReg64(RCX, 2n);
    exec(cpu, ins('cmpxchg', ['rm', 'r'], 4, { mem: memOp({ base: RSI }), reg: RCX, lock: true }));
    expect(cpu.mem.peek64(DATA)).toBe(1n);
    expect(cpu.flags.read() & FL_ZF).toBe(0);
    expect(cpu.flags.read() & FL_CF).toBe(FL_CF); // 0 - 1 borrows
    expect(cpu.getReg64(RAX)).toBe(1n);
    // 64-bit and register forms
    cpu.setReg64(RAX, 0x1_0000_0000n);
    cpu.setReg64(RBX, 0x1_0000_0000n);
    cpu.setReg64(RCX, 9n);
    exec(cpu, ins('cmpxchg', ['rm', 'r'], 8, { rm: RBX, reg: RCX }));
    expect(cpu.getReg64(RBX)).toBe(9n);
    exec(cpu, ins('cmpxchg', ['rm', 'r'], 8, { rm: RBX, reg: RCX }));
    expect(cpu.getReg64(RAX)).toBe(9n);
    expect(cpu.flags.read() & FL_ZF).toBe(0);
    // byte form
    cpu.setReg64(RAX, 0x100n);
    cpu.mem.poke(DATA, new Uint8Array([0]));
    exec(cpu, ins('cmpxchg', ['rm', 'r'], 1, { mem: memOp({ base: RSI }), reg: RCX }));
    expect(cpu.mem.peek(DATA, 1)![0]).toBe(9);
  });
});

describe('div / idiv', () => {
  const run = (op: string, size: OpSize, rdx: bigint, rax: bigint, d: bigint) => {
    const cpu = makeCpu();
    cpu.setReg64(RDX, rdx);
    cpu.setReg64(RAX, rax);
    cpu.setReg64(RBX, d);
    cpu.flags.write(0x2 | FL_CF | FL_AF);
    const before = [cpu.getReg64(RAX), cpu.getReg64(RDX), cpu.flags.read()];
    let f: CpuFault | undefined;
    try {
      exec(cpu, ins(op, ['rm'], size, { rm: RBX }));
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      f = e;
      expect([cpu.getReg64(RAX), cpu.getReg64(RDX), cpu.flags.read()]).toEqual(before);
    }
    return { f, q: cpu.getReg64(RAX), r: cpu.getReg64(RDX) };
  };

  it('divides at 16/32/64 bits', () => {
    expect(run('div', 4, 1n, 0n, 2n)).toMatchObject({ q: 0x80000000n, r: 0n });
    expect(run('div', 4, 0xffff_ffff_0000_0000n, 7n, 2n)).toMatchObject({ q: 3n, r: 1n }); // upper RDX ignored
    expect(run('idiv', 4, 0xffffffffn, BigInt.asUintN(32, -7n), 2n)).toMatchObject({ q: 0xfffffffdn, r: 0xffffffffn });
    expect(run('div', 8, 0n, 100n, 7n)).toMatchObject({ q: 14n, r: 2n });
    expect(run('div', 8, 1n, 0n, 0x10n)).toMatchObject({ q: 0x1000000000000000n, r: 0n });
    expect(run('idiv', 8, 0xffffffffffffffffn, BigInt.asUintN(64, -100n), 7n)).toMatchObject({
      q: BigInt.asUintN(64, -14n), r: BigInt.asUintN(64, -2n) });
    const r16 = run('div', 2, 0xaaaa_0001n, 0xbbbb_0000n, 0x10n);
    expect(hex(r16.q)).toBe('0xbbbb1000');
    expect(hex(r16.r)).toBe('0xaaaa0000');
  });

  it('raises #DE on zero divisor or quotient overflow, changing nothing', () => {
    expect(run('div', 4, 0n, 1n, 0n).f?.vector).toBe(VEC_DE);
    expect(run('div', 4, 2n, 0n, 2n).f?.vector).toBe(VEC_DE);
    expect(run('idiv', 4, 0xffffffffn, 0x80000000n, 0xffffffffn).f?.vector).toBe(VEC_DE); // -2^31 / -1
    expect(run('idiv', 8, 0xffffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn).f?.vector).toBe(VEC_DE);
    expect(run('div', 8, 5n, 0n, 5n).f?.vector).toBe(VEC_DE);
    expect(run('idiv', 8, 0n, 1n, 0n).f?.vector).toBe(VEC_DE);
    expect(run('idiv', 8, 0n, 0x8000000000000000n, 1n).f?.vector).toBe(VEC_DE); // 2^63 positive
  });
});

describe('precise exceptions', () => {
  it('push to an unmapped stack faults with RSP unchanged', () => {
    const cpu = makeCpu();
    cpu.setAddr(RSP, 0x50000);
    cpu.setReg64(RAX, 1n);
    const f = fault(() => exec(cpu, ins('push', ['o'], 8, { reg: RAX })));
    expect(f.vector).toBe(VEC_PF);
    expect(f.addr).toBe(0x50000 - 8);
    expect(cpu.addrOf(RSP)).toBe(0x50000);
    expect(fault(() => exec(cpu, ins('call', ['rel32'], 8, { target: 0 }))).vector).toBe(VEC_PF);
    expect(cpu.addrOf(RSP)).toBe(0x50000);
    expect(cpu.rip).toBe(CODE + 4); // not the call target
    expect(fault(() => exec(cpu, ins('pop', ['o'], 8, { reg: RAX }))).vector).toBe(VEC_PF);
    expect(cpu.getReg64(RAX)).toBe(1n);
    expect(fault(() => exec(cpu, ins('pushfq', [], 8))).vector).toBe(VEC_PF);
    expect(cpu.addrOf(RSP)).toBe(0x50000);
  });

  it('RMW on a read-only page changes nothing (memory, flags, registers)', () => {
    const cpu = makeCpu();
    cpu.mem.poke64(DATA, 0xffn);
    cpu.mem.protect(DATA, 0x1000, PERM_R);
    cpu.setAddr(RSI, DATA);
    cpu.setReg64(RAX, 1n);
    cpu.flags.write(0x2 | FL_ZF | FL_PF);
    const mem = memOp({ base: RSI });
    const forms: [string, Parameters<typeof ins>[1], OpSize][] = [
      ['add', ['rm', 'r'], 8], ['add', ['rm', 'r'], 1], ['sub', ['rm', 'r'], 4], ['adc', ['rm', 'r'], 2],
      ['inc', ['rm'], 4], ['neg', ['rm'], 8], ['not', ['rm'], 1], ['shl', ['rm', 'one'], 4],
      ['rol', ['rm', 'one'], 8], ['xadd', ['rm', 'r'], 4], ['xadd', ['rm', 'r'], 8], ['xchg', ['rm', 'r'], 8],
      ['cmpxchg', ['rm', 'r'], 4], ['cmpxchg', ['rm', 'r'], 8], ['setcc', ['rm'], 1], ['mov', ['rm', 'r'], 8],
    ];
    for (const [mn, ops, size] of forms) {
      const f = fault(() => exec(cpu, ins(mn, ops, size, { mem, reg: ops.length > 1 ? RAX : NOREG, imm: 1, cond: 4, lock: true })));
      expect(f.vector, mn).toBe(VEC_PF);
      expect(f.errorCode! & 2, mn).toBe(2); // write
      expect(cpu.mem.peek64(DATA), mn).toBe(0xffn);
      expect(cpu.getReg64(RAX), mn).toBe(1n);
      expect(cpu.flags.read(), mn).toBe(0x2 | FL_ZF | FL_PF);
    }
    // cmp/test only read: fine
    exec(cpu, ins('cmp', ['rm', 'r'], 8, { mem, reg: RAX }));
    expect(cpu.flags.read() & FL_ZF).toBe(0);
  });

  it('a faulting source read changes nothing', () => {
    const cpu = makeCpu();
    cpu.setAddr(RSI, 0x90000);
    cpu.setReg64(RAX, 5n);
    cpu.flags.write(0x2 | FL_CF);
    expect(fault(() => exec(cpu, ins('add', ['r', 'rm'], 8, { reg: RAX, mem: memOp({ base: RSI }) }))).vector).toBe(VEC_PF);
    expect(fault(() => exec(cpu, ins('cmovcc', ['r', 'rm'], 4, { cond: 1, reg: RAX, mem: memOp({ base: RSI }) }))).vector).toBe(VEC_PF);
    expect(fault(() => exec(cpu, ins('div', ['rm'], 4, { mem: memOp({ base: RSI }) }))).vector).toBe(VEC_PF);
    expect(cpu.getReg64(RAX)).toBe(5n);
    expect(cpu.flags.read()).toBe(0x2 | FL_CF);
  });
});

describe('system instructions and #UD', () => {
  it('int3 is a trap, ud2 and unknown forms are #UD', () => {
    const cpu = makeCpu();
    const f = fault(() => exec(cpu, ins('int3', [], 8)));
    expect(f.vector).toBe(VEC_BP);
    expect(f.trap).toBe(true);
    expect(fault(() => exec(cpu, ins('ud2', [], 8))).vector).toBe(VEC_UD);
    const bogus = { ...ins('nop', [], 8), mnemonic: 'fsqrt' };
    expect(fault(() => exec(cpu, bogus)).vector).toBe(VEC_UD);
  });

  it('cli/sti/pushfq/popfq, rdmsr/wrmsr/swapgs, mov cr/dr, nop/pause, hlt', () => {
    const cpu = makeCpu();
    exec(cpu, ins('sti', [], 8));
    expect(cpu.flags.sys & FL_IF).toBe(FL_IF);
    exec(cpu, ins('cmp', ['rm', 'r'], 4, { rm: RAX, reg: RAX })); // ZF PF set lazily
    exec(cpu, ins('pushfq', [], 8));
    expect(cpu.mem.peek64(STACK_TOP - 8)).toBe(BigInt(0x2 | FL_IF | FL_ZF | FL_PF));
    exec(cpu, ins('cli', [], 8));
    expect(cpu.flags.sys & FL_IF).toBe(0);
    cpu.mem.poke64(STACK_TOP - 8, BigInt(0x2 | FL_IF | FL_CF | FL_OF));
    exec(cpu, ins('popfq', [], 8));
    expect(cpu.flags.read()).toBe(0x2 | FL_IF | FL_CF | FL_OF);
    expect(cpu.flags.test(0)).toBe(true);
    // wrmsr GS_BASE, swapgs, rdmsr
    cpu.setReg64(RCX, 0xc0000101n);
    cpu.setReg64(RAX, 0x81000000n);
    cpu.setReg64(RDX, 0xffffffffn);
    exec(cpu, ins('wrmsr', [], 8));
    expect(cpu.gsBase).toBe(CODE);
    exec(cpu, ins('swapgs', [], 8));
    expect(cpu.kernelGsBase).toBe(CODE);
    cpu.setReg64(RCX, 0xc0000102n);
    exec(cpu, ins('rdmsr', [], 8));
    expect(hex(cpu.getReg64(RAX))).toBe('0x81000000');
    expect(hex(cpu.getReg64(RDX))).toBe('0xffffffff');
    exec(cpu, ins('rdtsc', [], 8));
    expect(hex(cpu.getReg64(RAX))).toBe('0x34567890');
    exec(cpu, ins('mov_from_cr', ['rr', 'cr'], 8, { reg: 0, rm: RBX }));
    expect(cpu.getReg64(RBX)).toBe(0x80050033n);
    cpu.setReg64(RBX, 0x12345n);
    exec(cpu, ins('mov_to_dr', ['dr', 'rr'], 8, { reg: 0, rm: RBX }));
    expect(cpu.dr[0]).toBe(0x12345);
    exec(cpu, ins('mov_from_dr', ['rr', 'dr'], 8, { reg: 0, rm: RDI }));
    expect(cpu.getReg64(RDI)).toBe(0x12345n);
    exec(cpu, ins('nop', [], 8));
    exec(cpu, ins('pause', [], 8));
    exec(cpu, ins('hlt', [], 8));
    expect(cpu.halted).toBe(true);
  });
});

describe('through the decoder', () => {
  it('decodes and executes real encodings', () => {
    const cpu = makeCpu();
    const run = (bytes: number[]): void => {
      const i = decode((a) => bytes[a - CODE]!, CODE);
      if (i === 'ud') throw new Error('ud: ' + bytes.map((b) => b.toString(16)).join(' '));
      compile(i); // compile once, run via exec
      exec(cpu, i);
    };
    cpu.setAddr(RBX, DATA);
    run([0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff]); // mov rax, -1
    expect(cpu.getReg64(RAX)).toBe(0xffffffffffffffffn);
    run([0x89, 0xc0]); // mov eax, eax
    expect(cpu.getReg64(RAX)).toBe(0xffffffffn);
    run([0x48, 0x89, 0x43, 0x08]); // mov [rbx+8], rax
    expect(cpu.mem.peek64(DATA + 8)).toBe(0xffffffffn);
    run([0xf0, 0x48, 0xff, 0x43, 0x08]); // lock inc qword [rbx+8]
    expect(cpu.mem.peek64(DATA + 8)).toBe(0x100000000n);
    run([0x48, 0x3b, 0x43, 0x08]); // cmp rax, [rbx+8]
    expect(cpu.flags.test(2)).toBe(true); // b
    run([0x0f, 0x92, 0xc1]); // setb cl
    expect(cpu.getReg64(RCX) & 0xffn).toBe(1n);
    run([0x48, 0xd3, 0xe0]); // shl rax, cl
    expect(cpu.getReg64(RAX)).toBe(0x1fffffffen);
    run([0x48, 0x8d, 0x44, 0x8b, 0x10]); // lea rax, [rbx+rcx*4+0x10]
    expect(cpu.addrOf(RAX)).toBe(DATA + 0x14);
  });
});

describe('loops', () => {
  it('dec / jne counts down at every size; inc wraps with CF preserved', () => {
    for (const size of [1, 2, 4, 8] as OpSize[]) {
      const cpu = makeCpu();
      cpu.setReg64(RCX, 200n);
      const dec = compile(ins('dec', ['rm'], size, { rm: RCX }));
      const jne = compile(ins('jcc', ['rel8'], 8, { cond: 5, target: CODE }));
      let n = 0;
      do {
        cpu.rip = CODE + 2;
        dec(cpu);
        jne(cpu);
        n++;
      } while (cpu.rip === CODE && n < 1000);
      expect(n, `size ${size}`).toBe(200);
      expect(cpu.getReg64(RCX)).toBe(0n);
    }
  });
});
