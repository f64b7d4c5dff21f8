// kgdb's hardware breakpoints on the simulated x86-64 machine (Linux
// arch/x86/kernel/kgdb.c after seed 001 patches 1 and 2): breakinfo[4],
// lockless slot reservation shared with the kernel's perf user, freeze/thaw
// of the debug registers, and #DB dispatch between the debugger and perf.
//
//   insert/remove (Z1-Z4)   validate → free breakinfo entry → reserve one slot on every CPU
//                           (SlotCounters: atomic dec-and-test-negative, rollback; never
//                           nr_bp_mutex) → record. Errors change nothing.
//   cpuEnter (freeze)       kgdb_disable_hw_debug: DR7 = 0 on that CPU, the debugger's slots
//                           uninstalled (bp_per_reg, cpu_dr7); perf's stay claimed.
//   cpuLeave (thaw)         kgdb_correct_hw_break + hw_breakpoint_restore: claim a free
//                           bp_per_reg slot for every enabled breakinfo, program DRn and
//                           cpu_dr7, DR7 = cpu_dr7 (perf's bits come back with it).
//   foreignDebugTrap        a #DB whose DR6 trap bits name none of the debugger's slots on
//                           that CPU is not ours: the kernel's do_debug hands it to perf.
//                           A #DB that is ours *and* perf's (both watch the same word, or a
//                           single-step over perf's write) enters the debugger, and perf's
//                           bits are delivered to the kernel's #DB handler on resume.
//
// Races with the kernel, all at instruction boundaries (the machine is stopped):
//   - slot claims are `lock cmpxchg 0 → owner` in the kernel, so a CPU frozen in the middle
//     of perf's install loop never shares a slot with the debugger;
//   - DR7 is rebuilt from cpu_dr7 by a two-instruction restartable sequence
//     (set_debugreg7): a CPU frozen between its load and its `mov dr7` is rewound to the
//     load, so it never writes a DR7 computed before the debugger changed cpu_dr7.
//
// Wire modes: `kgdb` answers every failure E01 (Linux returns -1 → error_packet) and Z3
// E01 (x86 has no read watchpoint); `modern` gives errnos (E22 bad request, E28 no slot,
// E02 not set) and offers Z3 as a simulator extension (docs/hwbreak.md).

import { HBP_NUM, HBP_OWNER, PCPU, PERCPU_STRIDE, SYM } from '../kernel/layout.js';
import { symbolAddr, type Image } from '../kernel/link.js';
import type { HwBreakpoints } from '../kgdb/hw-hooks.js';
import type { Entry, ResumeHooks } from '../kgdb/debug-core.js';
import { EINVAL, ENOENT, ENOSPC, EPERM, type BreakKind, type Errno, type StopEvent } from '../rsp/target.js';
import { canon } from '../system.js';
import type { Cpu } from '../target/cpu.js';
import { DR6_FIXED, DR7_BIT10 } from '../target/debugregs.js';
import { VEC_DB } from '../target/fault.js';
import type { Machine } from '../target/machine.js';
import { SlotCounters } from './reserve.js';
import { decodeDr7, hex, type HwType, slotBits, slotMask, typeOf, validate } from './x86.js';

export { SlotCounters } from './reserve.js';

/** One of kgdb's four breakpoints (Linux `struct hw_breakpoint breakinfo[4]`). */
export interface BreakInfo {
  enabled: boolean;
  addr: number;
  len: number;
  type: HwType;
}

export interface HwBreakOptions {
  /** Linux kgdb wire mode: every failure is E01, Z3 is refused. */
  linuxWire?: boolean;
  log?: (line: string) => void;
}

const OWNER_NAME: Record<number, string> = { [HBP_OWNER.FREE]: 'free', [HBP_OWNER.KGDB]: 'kgdb', [HBP_OWNER.PERF]: 'perf' };

export class X86HwBreakpoints implements HwBreakpoints {
  readonly breakinfo: BreakInfo[] = Array.from({ length: HBP_NUM }, () => ({ enabled: false, addr: 0, len: 1, type: 'exec' as HwType }));
  readonly counters: SlotCounters;
  /** Per CPU, per slot: the breakinfo index the debugger installed there, or -1. */
  private readonly installed: number[][];
  /** Per CPU: the debugger's stop reason computed when it trapped (before its slots were uninstalled). */
  private readonly reasonAt: Array<StopEvent['reason'] | undefined>;
  /** Per CPU: perf's DR6 bits of a #DB the debugger took; delivered to the kernel on resume. */
  private readonly pendingPerf: number[];
  /** Installs at resume that found no free slot (the reservation should make this impossible). */
  installFailures = 0;
  /** #DBs passed on to the kernel (perf's) and perf hits re-delivered after a shared #DB. */
  foreignTraps = 0;
  redelivered = 0;
  private readonly perCpuArea: number;
  private readonly reloadBegin: number;
  private readonly reloadCommit: number;
  private readonly linux: boolean;
  private readonly symbolAt: (addr: number) => string;

  constructor(
    private readonly machine: Machine,
    image: Image,
    private readonly opts: HwBreakOptions = {},
  ) {
    const s = (n: string): number => canon(symbolAddr(image, n));
    this.perCpuArea = s(SYM.perCpuArea);
    this.reloadBegin = s('__dr7_reload_begin');
    this.reloadCommit = s('__dr7_reload_commit');
    this.linux = opts.linuxWire ?? false;
    const n = machine.cpus.length;
    this.counters = new SlotCounters(machine.mem, this.perCpuArea, n);
    this.installed = Array.from({ length: n }, () => [-1, -1, -1, -1]);
    this.reasonAt = new Array(n).fill(undefined);
    this.pendingPerf = new Array<number>(n).fill(0);
    const objects = image.symbols
      .filter((x) => x.size > 0)
      .map((x) => ({ name: x.name, addr: canon(x.addr), size: x.size }));
    this.symbolAt = (addr) => {
      const o = objects.find((x) => addr >= x.addr && addr < x.addr + x.size);
      return o ? (addr === o.addr ? o.name : `${o.name}+${addr - o.addr}`) : '';
    };
  }

  /** The debug-core hooks this layer needs (compose with other users of ResumeHooks). */
  get hooks(): Pick<ResumeHooks, 'cpuEnter' | 'cpuLeave' | 'foreignDebugTrap'> {
    return {
      cpuEnter: (cpu, e) => this.cpuEnter(cpu, e),
      cpuLeave: (cpu) => this.cpuLeave(cpu),
      foreignDebugTrap: (cpu, dr6) => this.foreignDebugTrap(cpu, dr6),
    };
  }

  private err(e: Errno): Errno {
    return this.linux ? EPERM : e; // Linux: -1 → "E01"
  }

  // ------------------------------------------------------------ HwBreakpoints (Z1-Z4)

  supports(kind: BreakKind): boolean {
    return typeOf(kind) !== undefined;
  }

  insert(kind: BreakKind, addr: number, length: number): Errno | undefined {
    const type = typeOf(kind);
    if (type === undefined) return this.err(EINVAL);
    if (type === 'read' && this.linux) return EPERM; // x86 kgdb: BP_READ_WATCHPOINT → -1
    const v = validate(type, addr, length);
    if ('error' in v) return this.err(EINVAL);
    const i = this.breakinfo.findIndex((b) => !b.enabled);
    if (i < 0) return this.err(ENOSPC);
    if (!this.counters.allocAll()) return this.err(ENOSPC); // _dbg_hw_breakpoint_all_alloc
    this.breakinfo[i] = { enabled: true, addr, len: v.len, type };
    this.syncRunning();
    return undefined;
  }

  remove(kind: BreakKind, addr: number, length: number): Errno | undefined {
    const type = typeOf(kind);
    if (type === undefined) return this.err(EINVAL);
    // Linux matches the address only; the modern mode matches what was inserted.
    const len = type === 'exec' ? 1 : length;
    const i = this.breakinfo.findIndex(
      (b) => b.enabled && b.addr === addr && (this.linux || (b.type === type && b.len === len)),
    );
    if (i < 0) return this.err(ENOENT);
    this.breakinfo[i]!.enabled = false;
    this.counters.freeAll(); // _dbg_hw_breakpoint_all_free
    this.syncRunning();
    return undefined;
  }

  removeAll(): void {
    let any = false;
    for (const b of this.breakinfo) {
      if (!b.enabled) continue;
      b.enabled = false;
      this.counters.freeAll();
      any = true;
    }
    if (any) this.syncRunning();
  }

  stopReason(dr6: number, cpu?: number): StopEvent['reason'] | undefined {
    if (cpu !== undefined && this.reasonAt[cpu] !== undefined) return this.reasonAt[cpu];
    if (cpu !== undefined) return this.reasonFor(cpu, dr6);
    return undefined;
  }

  /** Breakpoints in use by the debugger. */
  get inUse(): number {
    return this.breakinfo.filter((b) => b.enabled).length;
  }

  // ------------------------------------------------------------ guest memory

  private pcpu(cpu: number, field: number): number {
    return this.perCpuArea + cpu * PERCPU_STRIDE + field;
  }

  private u32(a: number): number {
    return this.machine.mem.peekU32(a)!;
  }

  private setU32(a: number, v: number): void {
    this.machine.mem.pokeU32(a, v);
  }

  owner(cpu: number, slot: number): number {
    return this.u32(this.pcpu(cpu, PCPU.bp_per_reg + 4 * slot));
  }

  cpuDr7(cpu: number): number {
    return Number(this.machine.mem.peek64(this.pcpu(cpu, PCPU.cpu_dr7))! & 0xffffffffn);
  }

  private setCpuDr7(cpu: number, v: number): void {
    this.machine.mem.poke64(this.pcpu(cpu, PCPU.cpu_dr7), BigInt(v >>> 0));
  }

  // ------------------------------------------------------------ per-CPU install / uninstall

  /** Take the debugger's breakpoints out of a CPU's slots (arch_uninstall_hw_breakpoint for each). */
  private uninstallOurs(cpu: Cpu): void {
    const inst = this.installed[cpu.id]!;
    let dr7 = this.cpuDr7(cpu.id);
    for (let n = 0; n < HBP_NUM; n++) {
      if (inst[n]! < 0) continue;
      dr7 &= ~slotMask(n);
      if (this.owner(cpu.id, n) === HBP_OWNER.KGDB) this.setU32(this.pcpu(cpu.id, PCPU.bp_per_reg + 4 * n), HBP_OWNER.FREE);
      cpu.drReadOnly &= ~(1 << n);
      inst[n] = -1;
    }
    this.setCpuDr7(cpu.id, dr7);
  }

  /** kgdb_correct_hw_break on one CPU: claim a free slot for every enabled breakinfo. */
  private installOurs(cpu: Cpu): void {
    const inst = this.installed[cpu.id]!;
    let dr7 = this.cpuDr7(cpu.id);
    this.breakinfo.forEach((b, i) => {
      if (!b.enabled) return;
      let n = 0;
      while (n < HBP_NUM && this.owner(cpu.id, n) !== HBP_OWNER.FREE) n++;
      if (n === HBP_NUM) {
        // Linux: arch_install_hw_breakpoint fails and the breakpoint stays disabled on this CPU.
        this.installFailures++;
        this.opts.log?.(`hwbreak: CPU${cpu.id}: no free debug register for ${hex(b.addr)}`);
        return;
      }
      this.setU32(this.pcpu(cpu.id, PCPU.bp_per_reg + 4 * n), HBP_OWNER.KGDB);
      inst[n] = i;
      cpu.dr[n] = b.addr;
      dr7 = ((dr7 & ~slotMask(n)) | slotBits(n, b.type, b.len)) >>> 0;
      if (b.type === 'read') cpu.drReadOnly |= 1 << n;
    });
    this.setCpuDr7(cpu.id, dr7);
  }

  /** hw_breakpoint_restore: the hardware DR7 = cpu_dr7, and restart an interrupted reload. */
  private restore(cpu: Cpu): void {
    cpu.dr7 = (this.cpuDr7(cpu.id) | DR7_BIT10) >>> 0;
    // set_debugreg7 loaded cpu_dr7 into rax but has not written DR7 yet. If cpu_dr7 changed
    // meanwhile that value is stale: the sequence is restartable, so run it again from the
    // load. (Only when stale: a single-step through it must still make progress.)
    if (cpu.rip === this.reloadCommit && cpu.r[0]! >>> 0 !== this.cpuDr7(cpu.id)) cpu.rip = this.reloadBegin;
    this.machine.debugRegsUpdated(cpu);
  }

  /** A breakpoint changed while some CPUs run (gdb's `?`, detach): update those CPUs now. */
  private syncRunning(): void {
    for (const cpu of this.machine.cpus) {
      if (cpu.frozen || cpu.dead) continue;
      this.uninstallOurs(cpu);
      this.installOurs(cpu);
      this.restore(cpu);
    }
  }

  // ------------------------------------------------------------ debug-core hooks

  /** Our slots on a CPU as a DR6 trap-bit mask. */
  private ourMask(cpu: number): number {
    let m = 0;
    this.installed[cpu]!.forEach((bi, n) => {
      if (bi >= 0) m |= 1 << n;
    });
    return m;
  }

  private perfMask(cpu: number): number {
    let m = 0;
    for (let n = 0; n < HBP_NUM; n++) if (this.owner(cpu, n) === HBP_OWNER.PERF) m |= 1 << n;
    return m;
  }

  private reasonFor(cpu: number, dr6: number): StopEvent['reason'] | undefined {
    const inst = this.installed[cpu]!;
    for (let n = 0; n < HBP_NUM; n++) {
      if (((dr6 >>> n) & 1) === 0 || inst[n]! < 0) continue;
      const b = this.breakinfo[inst[n]!]!;
      if (b.type === 'exec') return { kind: 'hwbreak' };
      const kind = b.type === 'write' ? 'watch' : b.type === 'read' ? 'rwatch' : 'awatch';
      return { kind, addr: BigInt.asUintN(64, BigInt(b.addr)) };
    }
    return undefined;
  }

  foreignDebugTrap(cpu: Cpu, dr6: number): boolean {
    const foreign = (dr6 & 0xf & this.ourMask(cpu.id)) === 0;
    if (foreign) this.foreignTraps++;
    return foreign;
  }

  /** kgdb_disable_hw_debug: on entry (master or slave). */
  cpuEnter(cpu: Cpu, e?: Entry): void {
    this.reasonAt[cpu.id] = undefined;
    if (e !== undefined && e.vector === VEC_DB) {
      const ours = e.dr6 & 0xf & this.ourMask(cpu.id);
      this.reasonAt[cpu.id] = this.reasonFor(cpu.id, ours);
      // Perf's share of the same #DB (both watch one word, or a step over perf's write).
      this.pendingPerf[cpu.id] = e.dr6 & 0xf & ~ours & this.perfMask(cpu.id);
    }
    cpu.dr7 = DR7_BIT10; // set_debugreg(0UL, 7)
    this.uninstallOurs(cpu);
    this.machine.debugRegsUpdated(cpu);
  }

  /** kgdb_correct_hw_break + hw_breakpoint_restore: on the way out of the debugger. */
  cpuLeave(cpu: Cpu): void {
    this.uninstallOurs(cpu);
    this.installOurs(cpu);
    this.restore(cpu);
    const perf = this.pendingPerf[cpu.id]!;
    if (perf !== 0) {
      // The kernel's #DB handler sees perf's hit as if it had been the only one.
      this.pendingPerf[cpu.id] = 0;
      cpu.dr6 = (DR6_FIXED | perf) >>> 0;
      this.redelivered++;
      this.machine.deliver(cpu, VEC_DB, undefined);
    }
  }

  // ------------------------------------------------------------ monitor hwbp

  describe(): string {
    const out: string[] = [];
    const m = this.machine;
    out.push(`kgdb breakinfo (${this.inUse}/${HBP_NUM} in use; installed into the CPUs on resume):`);
    this.breakinfo.forEach((b, i) => {
      if (!b.enabled) out.push(`  [${i}] -`);
      else out.push(`  [${i}] ${b.type} addr=${hex(b.addr)}${this.sym(b.addr)} len=${b.len}`);
    });
    for (const cpu of m.cpus) {
      const id = cpu.id;
      const state = cpu.frozen ? 'in debugger: DR7 disabled' : 'running';
      out.push(
        `CPU${id}: dbg_slots_pinned=${this.counters.counter(id)} nr_cpu_bp_pinned=${this.u32(this.pcpu(id, PCPU.nr_cpu_bp_pinned))} ` +
          `cpu_dr7=${hex(this.cpuDr7(id))} DR7=${hex(cpu.dr7)} (${state}) DR6=${hex(cpu.dr6 >>> 0)}`,
      );
      const d7 = this.cpuDr7(id);
      for (let n = 0; n < HBP_NUM; n++) {
        const owner = this.owner(id, n);
        const name = OWNER_NAME[owner] ?? `owner#${owner}`;
        if (owner === HBP_OWNER.FREE) {
          out.push(`  DR${n}: free`);
          continue;
        }
        const rw = (d7 >>> (16 + 4 * n)) & 3;
        const len = [1, 2, 8, 4][(d7 >>> (18 + 4 * n)) & 3];
        const type = rw === 0 ? 'exec' : rw === 1 ? 'write' : rw === 3 ? ((cpu.drReadOnly >>> n) & 1 ? 'read' : 'access') : 'io';
        out.push(`  DR${n}: ${name} addr=${hex(cpu.dr[n]!)}${this.sym(cpu.dr[n]!)} type=${type} len=${len}`);
      }
      out.push(`  cpu_dr7 decoded:`, ...decodeDr7(d7, cpu.drReadOnly));
    }
    return out.join('\n') + '\n';
  }

  private sym(addr: number): string {
    const s = this.symbolAt(addr);
    return s ? ` <${s}>` : '';
  }
}
