// The semantics compiler: compile(ins) turns one decoded instruction into a
// closure specialised for it (register numbers, sizes, immediates, addressing
// mode captured at decode time; no per-execution dispatch on the mnemonic).
//
// Conventions (see cpu.ts, instr.ts, opcodes.ts):
//  - the operand shapes come from FORMS[ins.formId].ops (Intel order, destination first);
//  - when the closure runs, cpu.rip already holds the next instruction's address;
//  - precise exceptions: nothing is committed before the last access that can fault;
//  - instructions the machine cannot execute throw #UD (at compile time the
//    closure is simply one that throws, so the fault is raised when executed).

import type { Cpu } from '../../cpu.js';
import { CpuFault, VEC_BP, gp, ud } from '../../fault.js';
import { RAX, RCX, RSP, RBP, type ExecFn, type Instr, type OpSize } from '../instr.js';
import { K_SHIFT, K_SUB } from '../flags.js';
import { FORMS, type Form, type OpKind } from '../opcodes.js';
import {
  compileDiv, compileXadd, compileImul2, compileMul1, compileShift, compileUnary, srcGet, srcGet64,
  type Dst, type Src,
} from './alu.js';
import { genBinary, genIncDec, genJcc } from './gen.js';
import { H, TWO32, compileEA, compileRawEA, load, maskOf, regGet, regPut, sext, store, type Get } from './common.js';

export type { ExecFn } from '../instr.js';

const throwUd: ExecFn = () => {
  throw ud();
};

/** Compile one decoded instruction to its semantics. Never throws: unsupported forms compile to #UD. */
export function compile(ins: Instr): ExecFn {
  const form = FORMS[ins.formId];
  if (form === undefined || form.mnemonic !== ins.mnemonic) return throwUd;
  const c = COMPILERS[ins.mnemonic];
  if (c === undefined) return throwUd;
  return c(ins, form) ?? throwUd;
}

type Compiler = (ins: Instr, form: Form) => ExecFn | undefined;

// ---- operands ----

function isRm(k: OpKind): boolean {
  return k === 'rm' || k === 'm' || k === 'rm8' || k === 'rm16' || k === 'rm32';
}

/** Register/memory operand from the ModRM.rm side (or acc). */
function rmOperand(ins: Instr): Dst {
  if (ins.mem) return { kind: 'mem', ea: compileEA(ins.mem, ins.next) };
  return { kind: 'reg', n: ins.rm };
}

function operand(ins: Instr, k: OpKind): Src | undefined {
  if (isRm(k)) return rmOperand(ins);
  switch (k) {
    case 'r':
    case 'o':
      return { kind: 'reg', n: ins.reg };
    case 'acc':
      return { kind: 'reg', n: ins.rm >= 0 ? ins.rm : RAX };
    case 'imm8':
    case 'imm16':
    case 'imm32':
    case 'imm64':
    case 'uimm8':
    case 'one':
      return { kind: 'imm', lo: ins.immLo | 0, hi: ins.immHi | 0 };
  }
  return undefined;
}

function asDst(o: Src | undefined): Dst | undefined {
  return o && o.kind !== 'imm' ? o : undefined;
}

// ---- two-operand ALU ----

function alu(): Compiler {
  return (ins, form) => {
    const dst = asDst(operand(ins, form.ops[0]!));
    const src = operand(ins, form.ops[1]!);
    if (!dst || !src) return undefined;
    return genBinary(ins.mnemonic, form.size, dst, src);
  };
}

function unary(ins: Instr, form: Form): ExecFn | undefined {
  const dst = asDst(operand(ins, form.ops[0]!));
  if (!dst) return undefined;
  if (ins.mnemonic === 'inc' || ins.mnemonic === 'dec') return genIncDec(ins.mnemonic, form.size, dst);
  return compileUnary(ins.mnemonic, form.size, dst);
}

/**
 * shl/shr/sar of a 64-bit register by a constant 1..63: the hottest shift form
 * (hashes, bit fields). Flags are recorded lazily (K_SHIFT: CF/OF/AF computed
 * here with two bit operations, ZF/SF/PF derived from the result when read),
 * with the same values the general path gives (checked by the host fixtures).
 */
function shiftReg64Imm(name: string, n: number, c: number): ExecFn | undefined {
  if (c === 0 || (name !== 'shl' && name !== 'shr' && name !== 'sar')) return undefined;
  const i = 2 * n;
  const AF = 0x10, OF = 0x800;
  if (name === 'shl') {
    if (c < 32) {
      const d = 32 - c;
      return (cpu) => {
        const r = cpu.r;
        const a0 = r[i], a1 = r[i + 1];
        const hi = (a1 << c) | (a0 >>> d), lo = a0 << c;
        const cf = (a1 >>> d) & 1; // bit 64-c of the operand
        r[i] = lo;
        r[i + 1] = hi;
        const f = cpu.flags;
        f.k = K_SHIFT; f.sz = 8; f.r0 = lo; f.r1 = hi;
        f.aux = cf | ((hi >>> 31) ^ cf ? OF : 0) | AF;
      };
    }
    const e = c - 32;
    return (cpu) => {
      const r = cpu.r;
      const a0 = r[i];
      const hi = a0 << e;
      const cf = e === 0 ? r[i + 1] & 1 : (a0 >>> (32 - e)) & 1;
      r[i] = 0;
      r[i + 1] = hi;
      const f = cpu.flags;
      f.k = K_SHIFT; f.sz = 8; f.r0 = 0; f.r1 = hi;
      f.aux = cf | ((hi >>> 31) ^ cf ? OF : 0) | AF;
    };
  }
  const ar = name === 'sar';
  return (cpu) => {
    const r = cpu.r;
    const a0 = r[i], a1 = r[i + 1];
    let lo: number, hi: number, cf: number;
    if (c < 32) {
      lo = (a0 >>> c) | (a1 << (32 - c));
      hi = ar ? a1 >> c : (a1 >>> c) | 0;
      cf = (a0 >>> (c - 1)) & 1;
    } else {
      lo = ar ? a1 >> (c - 32) : (a1 >>> (c - 32)) | 0;
      hi = ar ? a1 >> 31 : 0;
      cf = c === 32 ? a0 >>> 31 : (a1 >>> (c - 33)) & 1;
    }
    r[i] = lo;
    r[i + 1] = hi;
    const f = cpu.flags;
    f.k = K_SHIFT; f.sz = 8; f.r0 = lo; f.r1 = hi;
    f.aux = cf | (!ar && c === 1 && a1 < 0 ? OF : 0) | AF;
  };
}

function shift(ins: Instr, form: Form): ExecFn | undefined {
  const dst = asDst(operand(ins, form.ops[0]!));
  if (!dst) return undefined;
  const ck = form.ops[1];
  let count: Get;
  if (ck === 'cl') count = (cpu) => cpu.r[2 * RCX] & 0xff;
  else {
    const n = ins.immLo & 0xff;
    count = () => n;
    if (form.size === 8 && dst.kind === 'reg') {
      const fast = shiftReg64Imm(ins.mnemonic, dst.n, n & 0x3f);
      if (fast) return fast;
    }
  }
  return compileShift(ins.mnemonic, form.size, dst, count);
}

function imul(ins: Instr, form: Form): ExecFn | undefined {
  if (form.ops.length === 1) {
    const s = operand(ins, form.ops[0]!);
    return s && compileMul1(true, form.size, s);
  }
  const a = operand(ins, form.ops[form.ops.length === 3 ? 1 : 0]!);
  const b = operand(ins, form.ops[form.ops.length === 3 ? 2 : 1]!);
  if (!a || !b || ins.reg < 0) return undefined;
  return compileImul2(form.size, ins.reg, a, b);
}

// ---- data movement ----

function mov(ins: Instr, form: Form): ExecFn | undefined {
  const sz = form.size;
  const dst = asDst(operand(ins, form.ops[0]!));
  const src = operand(ins, form.ops[1]!);
  if (!dst || !src) return undefined;
  if (sz === 8) {
    if (dst.kind === 'reg') {
      const i = 2 * dst.n;
      if (src.kind === 'reg') {
        const j = 2 * src.n;
        return (cpu) => {
          const r = cpu.r;
          r[i] = r[j];
          r[i + 1] = r[j + 1];
        };
      }
      if (src.kind === 'imm') {
        const lo = src.lo, hi = src.hi;
        return (cpu) => {
          cpu.r[i] = lo;
          cpu.r[i + 1] = hi;
        };
      }
      const ea = src.ea;
      return (cpu) => {
        const mem = cpu.mem;
        const lo = mem.read64(ea(cpu));
        cpu.r[i] = lo;
        cpu.r[i + 1] = mem.hi;
      };
    }
    const ea = dst.ea;
    if (src.kind === 'reg') {
      const j = 2 * src.n;
      return (cpu) => cpu.mem.write64(ea(cpu), cpu.r[j], cpu.r[j + 1]);
    }
    if (src.kind === 'imm') {
      const lo = src.lo, hi = src.hi;
      return (cpu) => cpu.mem.write64(ea(cpu), lo, hi);
    }
    return undefined;
  }
  if (sz === 4 && dst.kind === 'reg') {
    const i = 2 * dst.n;
    if (src.kind === 'reg') {
      const j = 2 * src.n;
      return (cpu) => {
        const r = cpu.r;
        r[i] = r[j];
        r[i + 1] = 0;
      };
    }
    if (src.kind === 'imm') {
      const v = src.lo | 0;
      return (cpu) => {
        cpu.r[i] = v;
        cpu.r[i + 1] = 0;
      };
    }
    const ea = src.ea;
    return (cpu) => {
      const v = cpu.mem.read32(ea(cpu));
      cpu.r[i] = v;
      cpu.r[i + 1] = 0;
    };
  }
  const get = srcGet(src, sz);
  if (dst.kind === 'reg') {
    const put = regPut(dst.n, sz);
    return (cpu) => put(cpu, get(cpu));
  }
  const ea = dst.ea;
  const st = store(sz);
  return (cpu) => {
    const v = get(cpu);
    st(cpu.mem, ea(cpu), v);
  };
}

function srcSizeOf(k: OpKind): OpSize {
  return k === 'rm8' ? 1 : k === 'rm16' ? 2 : 4;
}

function movx(signed: boolean): Compiler {
  return (ins, form) => {
    const ssz = srcSizeOf(form.ops[1]!);
    const src = operand(ins, form.ops[1]!);
    if (!src || src.kind === 'imm' || ins.reg < 0) return undefined;
    const get = srcGet(src, ssz);
    const dsz = form.size;
    const i = 2 * ins.reg;
    if (dsz === 8) {
      if (signed) {
        return (cpu) => {
          const v = sext(get(cpu), ssz);
          cpu.r[i] = v;
          cpu.r[i + 1] = v >> 31;
        };
      }
      return (cpu) => {
        const v = get(cpu);
        cpu.r[i] = v;
        cpu.r[i + 1] = 0;
      };
    }
    const put = regPut(ins.reg, dsz);
    if (signed) return (cpu) => put(cpu, sext(get(cpu), ssz) & maskOf(dsz));
    return (cpu) => put(cpu, get(cpu));
  };
}

function lea(ins: Instr, form: Form): ExecFn | undefined {
  if (!ins.mem || ins.reg < 0) return undefined;
  const raw = compileRawEA(ins.mem, ins.next);
  const sz = form.size;
  const i = 2 * ins.reg;
  if (sz === 8) {
    return (cpu) => {
      const lo = raw(cpu);
      cpu.r[i] = lo;
      cpu.r[i + 1] = H;
    };
  }
  if (sz === 4) {
    return (cpu) => {
      cpu.r[i] = raw(cpu);
      cpu.r[i + 1] = 0;
    };
  }
  const put = regPut(ins.reg, sz);
  return (cpu) => put(cpu, raw(cpu));
}

function xchg(ins: Instr, form: Form): ExecFn | undefined {
  const sz = form.size;
  const a = asDst(operand(ins, form.ops[0]!));
  const b = asDst(operand(ins, form.ops[1]!));
  if (!a || !b) return undefined;
  const [m, rg] = a.kind === 'mem' ? [a, b] : b.kind === 'mem' ? [b, a] : [null, null];
  if (m === null || rg === null || m.kind !== 'mem' || rg.kind !== 'reg') {
    // register with register
    if (a.kind !== 'reg' || b.kind !== 'reg') return undefined;
    if (sz === 8) {
      const i = 2 * a.n, j = 2 * b.n;
      return (cpu) => {
        const r = cpu.r;
        const t0 = r[i], t1 = r[i + 1];
        r[i] = r[j];
        r[i + 1] = r[j + 1];
        r[j] = t0;
        r[j + 1] = t1;
      };
    }
    const ga = regGet(a.n, sz), gb = regGet(b.n, sz), pa = regPut(a.n, sz), pb = regPut(b.n, sz);
    return (cpu) => {
      const x = ga(cpu), y = gb(cpu);
      pa(cpu, y);
      pb(cpu, x);
    };
  }
  const ea = m.ea;
  if (sz === 8) {
    const j = 2 * rg.n;
    return (cpu) => {
      const addr = ea(cpu);
      const mem = cpu.mem;
      const lo = mem.read64(addr);
      const hi = mem.hi;
      mem.write64(addr, cpu.r[j], cpu.r[j + 1]);
      cpu.r[j] = lo;
      cpu.r[j + 1] = hi;
    };
  }
  const ld = load(sz), st = store(sz), g = regGet(rg.n, sz), p = regPut(rg.n, sz);
  return (cpu) => {
    const addr = ea(cpu);
    const mem = cpu.mem;
    const old = ld(mem, addr);
    st(mem, addr, g(cpu));
    p(cpu, old);
  };
}

/** xadd dst, src: t = dst + src; src = dst; dst = t (flags as add). */
function xadd(ins: Instr, form: Form): ExecFn | undefined {
  if (ins.reg < 0) return undefined;
  return compileXadd(form.size, rmOperand(ins), ins.reg);
}
let stagedAddr = 0;

/** cmpxchg dst, src: compare rAX with dst; equal: dst = src; else rAX = dst. Flags as cmp rAX, dst. */
function cmpxchg(ins: Instr, form: Form): ExecFn | undefined {
  const sz = form.size;
  const dst = rmOperand(ins);
  if (ins.reg < 0) return undefined;
  const j = 2 * ins.reg;
  if (sz === 8) {
    const read: Get =
      dst.kind === 'reg'
        ? (cpu) => {
            H0 = cpu.r[2 * dst.n + 1];
            return cpu.r[2 * dst.n];
          }
        : (cpu) => {
            stagedAddr = dst.ea(cpu);
            const lo = cpu.mem.read64(stagedAddr);
            H0 = cpu.mem.hi;
            return lo;
          };
    return (cpu) => {
      const d0 = read(cpu), d1 = H0;
      const r = cpu.r;
      const a0 = r[0], a1 = r[1];
      const eq = a0 === d0 && a1 === d1;
      const s0 = r[j], s1 = r[j + 1];
      // the destination is always written (locked RMW): the old value on failure
      if (dst.kind === 'mem') cpu.mem.write64(stagedAddr, eq ? s0 : d0, eq ? s1 : d1);
      else if (eq) {
        r[2 * dst.n] = s0;
        r[2 * dst.n + 1] = s1;
      }
      if (!eq) {
        r[0] = d0;
        r[1] = d1;
      }
      const lo = (a0 - d0) | 0;
      const hi = (a1 - d1 - ((a0 >>> 0) < (d0 >>> 0) ? 1 : 0)) | 0;
      cpu.flags.set64(K_SUB, a0, a1, d0, d1, lo, hi, 0);
    };
  }
  const m = maskOf(sz);
  const gs = regGet(ins.reg, sz);
  const gacc = regGet(RAX, sz), pacc = regPut(RAX, sz);
  if (dst.kind === 'reg') {
    const gd = regGet(dst.n, sz), pd = regPut(dst.n, sz);
    return (cpu) => {
      const d = gd(cpu), a = gacc(cpu);
      if (a === d) pd(cpu, gs(cpu));
      else pacc(cpu, d);
      cpu.flags.set(K_SUB, sz, a, d, (a - d) & m, 0);
    };
  }
  const ea = dst.ea, ld = load(sz), st = store(sz);
  return (cpu) => {
    const addr = ea(cpu);
    const mem = cpu.mem;
    const d = ld(mem, addr), a = gacc(cpu);
    const eq = a === d;
    st(mem, addr, eq ? gs(cpu) : d);
    if (!eq) pacc(cpu, d);
    cpu.flags.set(K_SUB, sz, a, d, (a - d) & m, 0);
  };
}
let H0 = 0;

function cmov(ins: Instr, form: Form): ExecFn | undefined {
  const sz = form.size;
  const cc = ins.cond;
  const src = operand(ins, form.ops[1]!);
  if (!src || src.kind === 'imm' || ins.reg < 0) return undefined;
  const i = 2 * ins.reg;
  if (sz === 8) {
    const g = srcGet64(src);
    return (cpu) => {
      const lo = g(cpu); // the source is read (and may fault) whatever the condition
      const hi = H;
      if (cpu.flags.test(cc)) {
        cpu.r[i] = lo;
        cpu.r[i + 1] = hi;
      }
    };
  }
  const g = srcGet(src, sz);
  if (sz === 4) {
    return (cpu) => {
      const v = g(cpu);
      if (cpu.flags.test(cc)) cpu.r[i] = v;
      cpu.r[i + 1] = 0; // 32-bit cmov zero-extends even when the condition is false
    };
  }
  const put = regPut(ins.reg, sz);
  return (cpu) => {
    const v = g(cpu);
    if (cpu.flags.test(cc)) put(cpu, v);
  };
}

function setcc(ins: Instr): ExecFn | undefined {
  const cc = ins.cond;
  const dst = rmOperand(ins);
  if (dst.kind === 'reg') {
    const put = regPut(dst.n, 1);
    return (cpu) => put(cpu, cpu.flags.test(cc) ? 1 : 0);
  }
  const ea = dst.ea;
  return (cpu) => cpu.mem.write8(ea(cpu), cpu.flags.test(cc) ? 1 : 0);
}

function cdq(ins: Instr): ExecFn | undefined {
  switch (ins.mnemonic) {
    case 'cdq':
      return (cpu) => {
        cpu.r[4] = cpu.r[0] >> 31;
        cpu.r[5] = 0;
      };
    case 'cqo':
      return (cpu) => {
        const s = cpu.r[1] >> 31;
        cpu.r[4] = s;
        cpu.r[5] = s;
      };
    case 'cdqe':
      return (cpu) => {
        cpu.r[1] = cpu.r[0] >> 31;
      };
  }
  return undefined;
}

// ---- stack and control transfer ----

const SP = 2 * RSP;

function rspAddr(cpu: Cpu): number {
  const hi = cpu.r[SP + 1];
  if (hi > 0x7fff || hi < -0x8000) throw new CpuFault(12, 0); // #SS(0): non-canonical stack
  return hi * TWO32 + (cpu.r[SP] >>> 0);
}

function setRsp(cpu: Cpu, v: number): void {
  cpu.r[SP] = v | 0;
  cpu.r[SP + 1] = Math.floor(v / TWO32) | 0;
}

function canonTarget(lo: number, hi: number): number {
  if (hi > 0x7fff || hi < -0x8000) throw gp(0);
  return hi * TWO32 + (lo >>> 0);
}

function push(ins: Instr, form: Form): ExecFn | undefined {
  const k = form.ops[0]!;
  if (k === 'o') {
    const i = 2 * ins.reg;
    return (cpu) => {
      const sp = rspAddr(cpu) - 8;
      cpu.mem.write64(sp, cpu.r[i], cpu.r[i + 1]); // push rsp pushes the old value
      setRsp(cpu, sp);
    };
  }
  const src = operand(ins, k);
  if (!src) return undefined;
  const g = srcGet64(src);
  return (cpu) => {
    const lo = g(cpu), hi = H;
    const sp = rspAddr(cpu) - 8;
    cpu.mem.write64(sp, lo, hi);
    setRsp(cpu, sp);
  };
}

function pop(ins: Instr, form: Form): ExecFn | undefined {
  const k = form.ops[0]!;
  if (k === 'o' || (k === 'rm' && !ins.mem)) {
    const i = 2 * (k === 'o' ? ins.reg : ins.rm);
    return (cpu) => {
      const sp = rspAddr(cpu);
      const mem = cpu.mem;
      const lo = mem.read64(sp);
      const hi = mem.hi;
      setRsp(cpu, sp + 8);
      cpu.r[i] = lo; // pop rsp: the popped value wins
      cpu.r[i + 1] = hi;
    };
  }
  if (!ins.mem) return undefined;
  // pop to memory: the address is computed with RSP already incremented (SDM)
  const ea = compileEA(ins.mem, ins.next);
  return (cpu) => {
    const sp = rspAddr(cpu);
    const mem = cpu.mem;
    const lo = mem.read64(sp);
    const hi = mem.hi;
    const o0 = cpu.r[SP], o1 = cpu.r[SP + 1];
    setRsp(cpu, sp + 8);
    try {
      mem.write64(ea(cpu), lo, hi);
    } catch (e) {
      cpu.r[SP] = o0;
      cpu.r[SP + 1] = o1;
      throw e;
    }
  };
}

function jmp(ins: Instr, form: Form): ExecFn | undefined {
  const k = form.ops[0]!;
  if (k === 'rel8' || k === 'rel32') {
    const t = ins.target;
    return (cpu) => {
      cpu.rip = t;
    };
  }
  const src = operand(ins, k);
  if (!src || src.kind === 'imm') return undefined;
  const g = srcGet64(src);
  return (cpu) => {
    const lo = g(cpu);
    cpu.rip = canonTarget(lo, H);
  };
}

function jcc(ins: Instr): ExecFn | undefined {
  const t = ins.target;
  const cc = ins.cond;
  if (cc < 0 || cc > 15) return undefined;
  return genJcc(cc, t);
}

function call(ins: Instr, form: Form): ExecFn | undefined {
  const k = form.ops[0]!;
  if (k === 'rel32') {
    const t = ins.target;
    return (cpu) => {
      const sp = rspAddr(cpu) - 8;
      const ret = cpu.rip;
      cpu.mem.write64(sp, ret | 0, Math.floor(ret / TWO32) | 0);
      setRsp(cpu, sp);
      cpu.rip = t;
    };
  }
  const src = operand(ins, k);
  if (!src || src.kind === 'imm') return undefined;
  const g = srcGet64(src);
  return (cpu) => {
    const lo = g(cpu); // read the target first (call *%rsp-relative reads the old RSP)
    const t = canonTarget(lo, H);
    const sp = rspAddr(cpu) - 8;
    const ret = cpu.rip;
    cpu.mem.write64(sp, ret | 0, Math.floor(ret / TWO32) | 0);
    setRsp(cpu, sp);
    cpu.rip = t;
  };
}

const ret: ExecFn = (cpu) => {
  const sp = rspAddr(cpu);
  const mem = cpu.mem;
  const lo = mem.read64(sp);
  const t = canonTarget(lo, mem.hi);
  setRsp(cpu, sp + 8);
  cpu.rip = t;
};

const leave: ExecFn = (cpu) => {
  const r = cpu.r;
  const bp = 2 * RBP;
  const hi0 = r[bp + 1];
  if (hi0 > 0x7fff || hi0 < -0x8000) throw new CpuFault(12, 0);
  const fp = hi0 * TWO32 + (r[bp] >>> 0);
  const mem = cpu.mem;
  const lo = mem.read64(fp);
  const hi = mem.hi;
  setRsp(cpu, fp + 8);
  r[bp] = lo;
  r[bp + 1] = hi;
};

// ---- the table ----

const nop: ExecFn = () => {};

const COMPILERS: Record<string, Compiler> = {
  add: alu(),
  or: alu(),
  adc: alu(),
  sbb: alu(),
  and: alu(),
  sub: alu(),
  xor: alu(),
  cmp: alu(),
  test: alu(),
  inc: unary,
  dec: unary,
  neg: unary,
  not: unary,
  shl: shift,
  shr: shift,
  sar: shift,
  rol: shift,
  ror: shift,
  imul,
  mul: (ins, form) => {
    const s = operand(ins, form.ops[0]!);
    return s && compileMul1(false, form.size, s);
  },
  div: (ins, form) => {
    const s = operand(ins, form.ops[0]!);
    return s && compileDiv(false, form.size, s);
  },
  idiv: (ins, form) => {
    const s = operand(ins, form.ops[0]!);
    return s && compileDiv(true, form.size, s);
  },
  mov,
  movzx: movx(false),
  movsx: movx(true),
  movsxd: movx(true),
  lea,
  cdq,
  cqo: cdq,
  cdqe: cdq,
  xchg,
  xadd,
  cmpxchg,
  setcc,
  cmovcc: cmov,
  jcc,
  jmp,
  call,
  ret: () => ret,
  leave: () => leave,
  push,
  pop,
  pushfq: () => (cpu) => cpu.pushfq(),
  popfq: () => (cpu) => cpu.popfq(),
  iretq: () => (cpu) => cpu.iretq(),
  nop: () => nop,
  pause: () => nop,
  hlt: () => (cpu) => cpu.hlt(),
  cli: () => (cpu) => cpu.cli(),
  sti: () => (cpu) => cpu.sti(),
  int3: () => () => {
    throw new CpuFault(VEC_BP, undefined, 0, true);
  },
  ud2: () => throwUd,
  rdtsc: () => (cpu) => cpu.rdtsc(),
  rdmsr: () => (cpu) => cpu.rdmsr(),
  wrmsr: () => (cpu) => cpu.wrmsr(),
  swapgs: () => (cpu) => cpu.swapgs(),
  lidt: (ins) => {
    if (ins.mem === null) return undefined;
    const ea = compileEA(ins.mem, ins.next);
    return (cpu) => cpu.lidt(ea(cpu));
  },
  mov_from_cr: (ins) => {
    const n = ins.reg, g = ins.rm;
    return (cpu) => cpu.movFromCr(n, g);
  },
  mov_to_cr: (ins) => {
    const n = ins.reg, g = ins.rm;
    return (cpu) => cpu.movToCr(n, g);
  },
  mov_from_dr: (ins) => {
    const n = ins.reg, g = ins.rm;
    return (cpu) => cpu.movFromDr(n, g);
  },
  mov_to_dr: (ins) => {
    const n = ins.reg, g = ins.rm;
    return (cpu) => cpu.movToDr(n, g);
  },
};

/** Mnemonics compile() knows (for coverage checks against opcodes.ts). */
export const EXEC_MNEMONICS: readonly string[] = Object.keys(COMPILERS);
