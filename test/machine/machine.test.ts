import { describe, expect, it } from 'vitest';
import {
  qword, rax, rbx, rcx, rdx, r12, r13, r14, eax, ecx, edx, byte, dword, word, type Asm,
} from '../../src/kernel/asm.js';
import { VEC_BP, VEC_DB, VEC_NMI } from '../../src/target/fault.js';
import { DR6_BS } from '../../src/target/debugregs.js';
import { FL_IF, FL_TF } from '../../src/target/x86/flags.js';
import { program, reg, setGate } from '../helpers/program.js';

const MS = 1_000_000;

/** Program the x2APIC timer: vector, periodic, count in ns (divide by 1). */
function apicTimer(a: Asm, vector: number, countNs: number): void {
  a.mov(ecx, 0x83e); a.mov(eax, 0xb); a.xor(edx, edx); a.wrmsr();
  a.mov(ecx, 0x832); a.mov(eax, vector | (1 << 17)); a.wrmsr();
  a.mov(ecx, 0x838); a.mov(eax, countNs); a.wrmsr();
}

describe('interrupts and iretq', () => {
  it('delivers periodic APIC timer interrupts through the IDT and returns with iretq', () => {
    const p = program((a) => {
      a.func('startup_64', () => {
        apicTimer(a, 0x20, 100_000); // every 100 µs
        a.sti();
        a.label('.spin');
        a.inc(rbx);
        a.jmp('.spin');
      });
      a.func('timer_handler', () => {
        a.inc(r12);
        a.push(rcx); a.push(rax); a.push(rdx);
        a.mov(ecx, 0x80b); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr(); // EOI
        a.pop(rdx); a.pop(rax); a.pop(rcx);
        a.iretq();
      });
    });
    setGate(p, 0x20, p.sym('timer_handler'));
    const m = p.machine;
    const rspBefore = m.cpus[0].addrOf(4);
    m.run(1 * MS);
    const ticks = reg(m, 0, 12);
    expect(ticks).toBeGreaterThanOrEqual(9n);
    expect(ticks).toBeLessThanOrEqual(11n);
    expect(reg(m, 0, 3)).toBeGreaterThan(10_000n); // the interrupted loop kept running
    // Every frame was popped again: the stack is balanced and IF is back on.
    const c = m.cpus[0];
    if (c.rip >= p.sym('startup_64') && c.rip < p.sym('timer_handler')) expect(c.addrOf(4)).toBe(rspBefore);
    expect(c.flags.sys & FL_IF).toBe(FL_IF);
    expect(m.apics[0].timerFired).toBe(Number(ticks));
  });

  it('pushes the long-mode frame (error code, RIP, CS, RFLAGS, RSP, SS) for #PF and sets CR2', () => {
    const p = program((a) => {
      a.func('startup_64', () => {
        a.mov(rax, 0x1234000);
        a.label('faulting');
        a.mov(rbx, qword(rax, 8)); // unmapped: #PF
        a.hlt();
      });
      a.func('pf_handler', () => {
        a.mov(r12, qword(rsp_(), 0)); // error code
        a.mov(r13, qword(rsp_(), 8)); // rip
        a.mov(r14, qword(rsp_(), 16)); // cs
        a.mov(rcx, qword(rsp_(), 32)); // old rsp
        a.mov(rdx, qword(rsp_(), 40)); // ss
        a.hlt();
      });
    });
    setGate(p, 14, p.sym('pf_handler'));
    const m = p.machine;
    const sp0 = m.cpus[0].addrOf(4);
    m.run(MS);
    expect(reg(m, 0, 12)).toBe(0n); // not-present read
    expect(Number(BigInt.asIntN(64, reg(m, 0, 13)))).toBe(p.sym('faulting'));
    expect(reg(m, 0, 14)).toBe(0x10n);
    expect(Number(BigInt.asIntN(64, reg(m, 0, 1)))).toBe(sp0);
    expect(reg(m, 0, 2)).toBe(0x18n);
    expect(m.cpus[0].cr2).toBe(0x1234008);
    expect(reg(m, 0, 3)).toBe(0n); // the faulting load committed nothing
  });

  it('raises #UD at the exact RIP of an unsupported instruction', () => {
    const p = program((a) => {
      a.func('startup_64', () => {
        a.nop();
        a.label('bad');
        a.bytes([0x0f, 0x05]); // syscall: not in the subset
        a.hlt();
      });
      a.func('ud_handler', () => {
        a.mov(r13, qword(rsp_(), 0));
        a.hlt();
      });
    });
    setGate(p, 6, p.sym('ud_handler'));
    p.machine.run(MS);
    expect(Number(BigInt.asIntN(64, reg(p.machine, 0, 13)))).toBe(p.sym('bad'));
  });

  it('blocks a second NMI until the first handler executes iretq', () => {
    const p = program((a) => {
      a.func('startup_64', () => {
        a.label('.spin');
        a.inc(rbx);
        a.jmp('.spin');
      });
      a.func('nmi_handler', () => {
        a.inc(r12);
        a.mov(r13, r12); // depth marker: a nested NMI would see r14 != 0
        a.add(r14, 1);
        a.mov(rcx, 20000);
        a.label('.busy');
        a.dec(rcx);
        a.j('ne', '.busy');
        a.cmp(r14, 1);
        a.j('e', '.ok');
        a.ud2(); // nested: must not happen
        a.label('.ok');
        a.sub(r14, 1);
        a.iretq();
      });
    });
    setGate(p, 2, p.sym('nmi_handler'));
    const m = p.machine;
    m.run(10_000);
    m.sendNmi(0);
    for (let i = 0; i < 10 && !m.cpus[0].nmiBlocked; i++) m.run(m.now + 1000); // one round at a time
    expect(m.cpus[0].nmiBlocked).toBe(true);
    expect(reg(m, 0, 12)).toBe(1n);
    m.sendNmi(0); // arrives while the first handler runs
    m.run(m.now + 5 * MS);
    expect(reg(m, 0, 12)).toBe(2n);
    expect(m.cpus[0].nmiBlocked).toBe(false);
    expect(m.log.filter((e) => e.kind === 'ud')).toEqual([]);
  });
});

describe('debug registers', () => {
  function watchProgram() {
    return program(
      (a) => {
        a.func('startup_64', () => {
          a.label('.loop');
          a.label('exec_here');
          a.mov(byte('target'), 1);
          a.mov(word('target'), 2);
          a.mov(dword('target'), 3);
          a.mov(qword('target'), 4);
          a.mov(rax, qword('target')); // a read
          a.mov(rbx, qword('other'));
          a.inc(r12);
          a.jmp('.loop');
        });
      },
      (d) => {
        d.align(8);
        d.object('target', 8);
        d.object('other', 8);
      },
    );
  }

  function collect(p: ReturnType<typeof watchProgram>, max = 8) {
    const hits: Array<{ vector: number; dr6: number; rip: number }> = [];
    p.machine.interceptor = (cpu, vector, dr6) => {
      if (vector !== VEC_DB) return false;
      hits.push({ vector, dr6, rip: cpu.rip });
      if (hits.length >= max) p.machine.requestStop();
      return true;
    };
    return hits;
  }

  it('execute breakpoint fires before the instruction; RF lets it run once', () => {
    const p = watchProgram();
    const hits = collect(p, 2);
    const c = p.machine.cpus[0];
    c.dr[0] = p.sym('exec_here');
    c.dr7 = 0x400 | 1; // L0, RW=00 exec, LEN=00
    p.machine.debugRegsUpdated(c);
    p.machine.run(MS);
    expect(hits.length).toBeGreaterThanOrEqual(1);
    expect(hits[0].rip).toBe(p.sym('exec_here'));
    expect(hits[0].dr6 & 1).toBe(1);
    expect(reg(p.machine, 0, 12)).toBe(0n); // stopped before the first iteration completed
  });

  for (const [len, lenBits] of [[1, 0], [2, 1], [4, 3], [8, 2]] as const) {
    it(`write watchpoint of length ${len} traps after each overlapping write, not on reads`, () => {
      const p = watchProgram();
      const hits = collect(p, 5);
      const c = p.machine.cpus[0];
      c.dr[1] = p.sym('target');
      c.dr7 = 0x400 | (1 << 2) | (1 << (16 + 4)) | (lenBits << (18 + 4)); // L1, RW=01, LEN
      p.machine.debugRegsUpdated(c);
      p.machine.run(MS);
      expect(hits.length).toBe(5);
      for (const h of hits) expect(h.dr6 & 0xf).toBe(2);
      // Trap semantics: RIP is past the writing instruction; four writes per loop overlap byte 0.
      const addrs = hits.slice(0, 4).map((h) => h.rip);
      expect(new Set(addrs).size).toBe(4);
      expect(reg(p.machine, 0, 12)).toBe(1n);
    });
  }

  it('read/write watchpoint also traps on reads; a watchpoint elsewhere does not fire', () => {
    const p = watchProgram();
    const hits = collect(p, 5);
    const c = p.machine.cpus[0];
    c.dr[2] = p.sym('target') + 4; // upper half, len 4: byte/word writes at +0 do not overlap
    c.dr7 = 0x400 | (1 << 4) | (3 << (16 + 8)) | (3 << (18 + 8)); // L2, RW=11, LEN=4
    p.machine.debugRegsUpdated(c);
    p.machine.run(MS);
    // per loop: qword write and qword read overlap; byte/word/dword writes at +0..+3 do not
    expect(hits.length).toBe(5);
    expect(hits.every((h) => (h.dr6 & 0xf) === 4)).toBe(true);
    expect(hits[0].rip).not.toBe(hits[1].rip);
  });

  it('TF single-steps one instruction at a time with DR6.BS', () => {
    const p = watchProgram();
    const hits: number[] = [];
    const m = p.machine;
    m.interceptor = (cpu, vector, dr6) => {
      if (vector !== VEC_DB || (dr6 & DR6_BS) === 0) return false;
      hits.push(cpu.rip);
      if (hits.length === 6) {
        cpu.flags.sys &= ~FL_TF;
        m.requestStop();
      }
      return true;
    };
    m.cpus[0].flags.sys |= FL_TF;
    m.run(MS);
    expect(hits.length).toBe(6);
    expect(m.cpus[0].retired).toBe(6);
    for (let i = 1; i < 6; i++) expect(hits[i]).toBe(m.instructionAt(hits[i - 1]).next === hits[i] ? hits[i] : -1);
  });
});

describe('decode cache, idle and determinism', () => {
  it('a breakpoint planted in code that already ran still hits', () => {
    const p = program((a) => {
      a.func('startup_64', () => {
        a.label('.loop');
        a.label('hot');
        a.inc(rbx);
        a.jmp('.loop');
      });
    });
    const m = p.machine;
    let traps = 0;
    m.interceptor = (cpu, vector) => {
      if (vector !== VEC_BP) return false;
      traps++;
      expect(cpu.rip).toBe(p.sym('hot') + 1);
      m.requestStop();
      return true;
    };
    m.run(100_000);
    const before = reg(m, 0, 3);
    expect(before).toBeGreaterThan(1000n);
    m.mem.poke(p.sym('hot'), Uint8Array.of(0xcc));
    m.run(m.now + MS);
    expect(traps).toBe(1);
  });

  it('an idle machine fast-forwards to the next event: 10 virtual seconds cost few instructions', () => {
    const p = program((a) => {
      a.func('startup_64', () => {
        apicTimer(a, 0x20, 10_000_000); // 10 ms: HZ=100
        a.label('.idle');
        a.sti();
        a.hlt();
        a.jmp('.idle');
      });
      a.func('timer_handler', () => {
        a.inc(r12);
        a.mov(ecx, 0x80b); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr();
        a.iretq();
      });
    }, undefined, { cpus: 4 });
    setGate(p, 0x20, p.sym('timer_handler'));
    const m = p.machine;
    m.run(10_000 * MS);
    expect(m.now).toBeGreaterThanOrEqual(10_000 * MS);
    for (let c = 0; c < 4; c++) {
      const t = reg(m, c, 12);
      expect(t).toBeGreaterThanOrEqual(999n);
      expect(t).toBeLessThanOrEqual(1001n);
      expect(m.cpus[c].retired).toBeLessThan(20_000);
    }
  });

  function contended(seed: number) {
    const p = program(
      (a) => {
        a.func('startup_64', () => {
          a.label('.again');
          a.mov(eax, 0);
          a.mov(ecx, 1);
          a.lock().cmpxchg(dword('lockword'), ecx);
          a.j('ne', '.again');
          a.inc(qword('shared'));
          a.mov(dword('lockword'), 0);
          a.inc(r12);
          a.jmp('.again');
        });
      },
      (d) => {
        d.object('lockword', 8);
        d.object('shared', 8);
      },
      { cpus: 4, seed },
    );
    p.machine.run(2 * MS);
    return { hash: p.machine.traceHash, shared: p.machine.mem.peek64(p.sym('shared'))!, p };
  }

  it('is a pure function of the seed: same seed same trace, different seed different trace', () => {
    const a = contended(7);
    const b = contended(7);
    const c = contended(8);
    expect(a.hash).toBe(b.hash);
    expect(a.shared).toBe(b.shared);
    expect(c.hash).not.toBe(a.hash);
    // lock cmpxchg is atomic: the counter equals the sum of per-CPU successes
    let sum = 0n;
    for (let i = 0; i < 4; i++) sum += reg(a.p.machine, i, 12);
    expect(a.shared).toBe(sum);
  });
});

function rsp_() {
  return rspReg;
}
import { rsp as rspReg } from '../../src/kernel/asm.js';
void VEC_NMI;
