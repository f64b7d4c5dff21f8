// The gdbstub side of kgdb (after Linux kernel/debug/gdbstub.c): the rsp
// Target interface implemented on the debug core and the machine. Packets
// arrive here already parsed and validated by src/rsp.

import {
  EFAULT, EINVAL, ENOSPC,
  type BreakKind, type Errno, type NegotiatedFeatures, type ResumeAction, type StopEvent, type Target, type ThreadInfo,
} from '../rsp/target.js';
import type { Cpu } from '../target/cpu.js';
import type { Machine } from '../target/machine.js';
import { VEC_BP } from '../target/fault.js';
import { type CpuPlan, type DebugCore, type Entry, fromU64, SIGINT, SIGTRAP } from './debug-core.js';
import {
  G_BLOCK_SIZE, REG_RBP, REG_RIP, REG_RSP, REGISTER_SIZES, REGISTERS, readCpuReg, readCpuRegs, registerOffset, resetFpState,
  targetXml, writeCpuReg,
} from './regs.js';
import type { Runner } from './runner.js';
import {
  type KernelView, resolveThread, shadowOf, type ShadowNumbering, type TaskView, threadOfCpu, isShadow,
} from './threads.js';
import type { HwBreakpoints } from './hw-hooks.js';

export interface GdbTargetOptions {
  machine: Machine;
  core: DebugCore;
  runner: Runner;
  kernel: KernelView;
  hw?: HwBreakpoints;
  monitor?: (cmd: string) => string | undefined;
  /** Shadow thread ids: positive (modern) or Linux's -cpu-2 (kgdb wire profile). */
  numbering?: ShadowNumbering;
}

/** Linux x86-64 kgdb (arch/x86/include/asm/kgdb.h): registers in `g` (NUMREGBYTES = 17*8 + 5*4) and DBG_MAX_REG_NUM. */
export const LINUX_G_REGS = 22;
export const LINUX_MAX_REG = 24;
/**
 * GDB_ORIG_AX: gdb's amd64-linux architecture (what gdb picks without a
 * target.xml) writes orig_rax = -1 at every stop (`P39=ffffffffffffffff`) and
 * gives up on the stop if that fails. Linux answers OK and ignores the value
 * (dbg_set_reg), and `p39` reads orig_ax.
 */
export const LINUX_ORIG_AX = 57;
/** Register sizes in the kgdb wire mode: the 24 of DBG_MAX_REG_NUM, then no registers (size 0: E22) up to orig_ax. */
const LINUX_REGISTER_SIZES: readonly number[] = [
  ...REGISTER_SIZES.slice(0, LINUX_MAX_REG),
  ...new Array<number>(LINUX_ORIG_AX - LINUX_MAX_REG).fill(0),
  8,
];

export class GdbTarget implements Target {
  readonly features: ReadonlyMap<string, string> = new Map([['target.xml', targetXml()]]);
  /** Registers p/P reach; g/G carry the first gRegisterCount of them (Linux layout in the kgdb wire mode). */
  readonly registerSizes: readonly number[];
  readonly gRegisterCount: number;
  private readonly machine: Machine;
  private readonly core: DebugCore;
  private readonly runner: Runner;
  private readonly kernel: KernelView;
  private readonly hw: HwBreakpoints | undefined;
  private readonly extraMonitor: ((cmd: string) => string | undefined) | undefined;
  /** x87/SSE shadow registers per CPU (the CPU executes no FP code; see regs.ts). */
  private readonly fp: Uint8Array[];
  private onStop: ((ev: StopEvent) => void) | null = null;
  /** A stop that completed with no debugger listening (e.g. kgdb_breakpoint before gdb connected). */
  private unreported: Entry | null = null;
  private lastStop: StopEvent | null = null;
  private readonly numbering: ShadowNumbering;

  constructor(o: GdbTargetOptions) {
    this.numbering = o.numbering ?? 'modern';
    // kgdb wire mode: no target.xml reaches gdb (no qXfer), so gdb assumes its
    // built-in amd64 layout and rejects a longer `g` ("reply is too long").
    // Linux's x86-64 block is shorter: g/G = NUMREGBYTES (156 bytes: 16 GPRs,
    // rip, eflags, cs, ss, ds, es), p/P up to DBG_MAX_REG_NUM (24, adds fs, gs).
    const linux = this.numbering === 'linux';
    this.registerSizes = linux ? LINUX_REGISTER_SIZES : REGISTER_SIZES;
    this.gRegisterCount = linux ? LINUX_G_REGS : REGISTERS.length;
    this.machine = o.machine;
    this.core = o.core;
    this.runner = o.runner;
    this.kernel = o.kernel;
    this.hw = o.hw;
    this.extraMonitor = o.monitor;
    this.fp = o.machine.cpus.map(() => resetFpState());
    this.core.onStopped = (e) => this.stopped(e);
  }

  // ------------------------------------------------------------ session

  attach(onStop: (ev: StopEvent) => void): void {
    this.onStop = onStop;
  }

  /** The session ended without detach (connection lost): nobody listens for stops any more. */
  release(): void {
    this.onStop = null;
  }

  negotiated(f: NegotiatedFeatures): void {
    this.core.reportSwbreakAddress = f.swbreak;
  }

  isRunning(): boolean {
    return this.core.state !== 'stopped';
  }

  interrupt(): void {
    if (this.core.state === 'stopped') return;
    this.runner.catchUp(); // an idle machine may run up to a batch behind wall time
    if (this.core.state !== 'running') {
      this.core.completeEntry(); // a trap on the way to "now" is the stop
      return;
    }
    this.core.stopNow(SIGINT);
  }

  haltReason(): StopEvent {
    // `?` is only sent when a debugger connects: like Linux gdb_cmd_status(),
    // forget breakpoints a previous debugger may have left behind.
    this.core.sw.clear();
    this.hw?.removeAll();
    if (this.core.state !== 'stopped') {
      // A debugger connecting to a running machine stops it (like a break-in).
      const listener = this.onStop;
      this.onStop = null; // the `?` reply carries this stop; do not send it twice
      this.core.stopNow(SIGTRAP);
      this.onStop = listener;
    }
    this.unreported = null;
    return this.lastStop ?? this.eventFor(this.core.entry!);
  }

  private stopped(e: Entry): void {
    const ev = this.eventFor(e);
    this.lastStop = ev;
    if (this.onStop === null) {
      this.unreported = e;
      return;
    }
    const cb = this.onStop;
    // Report from a fresh stack: the stop may complete inside a call from the session.
    queueMicrotask(() => cb(ev));
  }

  private eventFor(e: Entry): StopEvent {
    const cpu = this.machine.cpus[e.cpu];
    const thread = threadOfCpu(e.cpu, this.kernel, this.numbering);
    const ev: StopEvent = { signal: e.signal, thread, expedite: this.expedite(cpu) };
    if (e.swbreakAt !== undefined) ev.reason = { kind: 'swbreak' };
    else if (e.vector !== VEC_BP && e.vector >= 0 && (e.dr6 & 0xf) !== 0 && this.hw) {
      const r = this.hw.stopReason(e.dr6, e.cpu);
      if (r) ev.reason = r;
    }
    return ev;
  }

  private expedite(cpu: Cpu): Array<[number, Uint8Array]> {
    return [REG_RIP, REG_RSP, REG_RBP].map((n) => {
      const b = new Uint8Array(REGISTER_SIZES[n]);
      readCpuReg(cpu, this.fp[cpu.id], n, b, 0);
      return [n, b];
    });
  }

  // ------------------------------------------------------------ threads

  threads(): ThreadInfo[] {
    const n = this.machine.cpus.length;
    const out: ThreadInfo[] = [];
    for (let c = 0; c < n; c++) out.push({ id: shadowOf(c, this.numbering), extra: this.shadowExtra(c) });
    for (const t of this.kernel.tasks()) if (t.state !== 'dead') out.push({ id: t.pid, extra: taskExtra(t) });
    return out;
  }

  private shadowExtra(c: number): string {
    if (this.numbering === 'linux') return `shadowCPU${c}`; // exactly Linux's text
    const pid = this.kernel.currentPid(c);
    const what = pid > 0 ? `running pid ${pid}` : 'idle';
    const missing = this.core.notResponding.includes(c) ? ', missed roundup' : '';
    return `shadowCPU${c} (${what}${missing})`;
  }

  currentThread(): number {
    const e = this.core.entry;
    return e ? threadOfCpu(e.cpu, this.kernel, this.numbering) : shadowOf(0, this.numbering);
  }

  threadAlive(tid: number): boolean {
    return resolveThread(tid, this.machine.cpus.length, this.kernel, this.numbering) !== undefined;
  }

  // ------------------------------------------------------------ registers

  private regsOf(tid: number): { cpu: Cpu } | { task: TaskView } | undefined {
    const r = resolveThread(tid, this.machine.cpus.length, this.kernel, this.numbering);
    if (r === undefined) return undefined;
    return r.kind === 'cpu' ? { cpu: this.machine.cpus[r.cpu] } : { task: r.task };
  }

  readRegisters(tid: number): Uint8Array | Errno {
    const all = this.allRegisters(tid);
    if (typeof all === 'number' || this.gRegisterCount === REGISTERS.length) return all;
    return all.slice(0, registerOffset(this.gRegisterCount));
  }

  /** Every register of the table (the modern `g` block). */
  private allRegisters(tid: number): Uint8Array | Errno {
    const who = this.regsOf(tid);
    if (who === undefined) return EINVAL;
    const out = new Uint8Array(G_BLOCK_SIZE);
    if ('cpu' in who) {
      readCpuRegs(who.cpu, this.fp[who.cpu.id], out);
    } else {
      sleepingRegs(who.task, out);
    }
    return out;
  }

  writeRegisters(tid: number, data: Uint8Array): Errno | undefined {
    const n = this.gRegisterCount;
    if (data.length !== (n === REGISTERS.length ? G_BLOCK_SIZE : registerOffset(n))) return EINVAL;
    const who = this.regsOf(tid);
    if (who === undefined || !('cpu' in who)) return EINVAL;
    // Validate every register first: all or nothing.
    for (let i = 0; i < n; i++)
      if (!writeCpuReg(who.cpu, this.fp[who.cpu.id], i, data, registerOffset(i), true)) return EINVAL;
    for (let i = 0; i < n; i++) writeCpuReg(who.cpu, this.fp[who.cpu.id], i, data, registerOffset(i));
    return undefined;
  }

  readRegister(tid: number, regno: number): Uint8Array | Errno {
    if (!Number.isInteger(regno) || regno < 0 || regno >= this.registerSizes.length || this.registerSizes[regno] === 0) return EINVAL;
    if (this.numbering === 'linux' && regno === LINUX_ORIG_AX) {
      // We keep no pt_regs->orig_ax: a debugger stop is never inside a syscall, so -1.
      return this.regsOf(tid) === undefined ? EINVAL : new Uint8Array(8).fill(0xff);
    }
    const all = this.allRegisters(tid);
    if (typeof all === 'number') return all;
    return all.slice(registerOffset(regno), registerOffset(regno) + REGISTER_SIZES[regno]);
  }

  writeRegister(tid: number, regno: number, data: Uint8Array): Errno | undefined {
    if (!Number.isInteger(regno) || regno < 0 || regno >= this.registerSizes.length || this.registerSizes[regno] === 0) return EINVAL;
    if (data.length !== this.registerSizes[regno]) return EINVAL;
    // Linux dbg_set_reg(): writes to orig_ax are accepted and ignored.
    if (this.numbering === 'linux' && regno === LINUX_ORIG_AX) return this.regsOf(tid) === undefined ? EINVAL : undefined;
    const who = this.regsOf(tid);
    if (who === undefined || !('cpu' in who)) return EINVAL;
    if (!writeCpuReg(who.cpu, this.fp[who.cpu.id], regno, data, 0, true)) return EINVAL;
    writeCpuReg(who.cpu, this.fp[who.cpu.id], regno, data, 0);
    return undefined;
  }

  // ------------------------------------------------------------ memory

  readMemory(addr: bigint, len: number): Uint8Array | Errno {
    if (len === 0) return new Uint8Array(0);
    const a = fromU64(addr);
    const last = fromU64(addr + BigInt(len - 1));
    if (a === undefined || last === undefined || last < a) return EFAULT;
    const bytes = this.machine.mem.peek(a, len);
    if (bytes === undefined) return EFAULT;
    // Read while running (int3s planted): show the original bytes, never our 0xCC.
    if (this.core.state !== 'stopped') this.core.sw.mask(a, bytes);
    return bytes;
  }

  writeMemory(addr: bigint, data: Uint8Array): Errno | undefined {
    if (data.length === 0) return undefined;
    const a = fromU64(addr);
    const last = fromU64(addr + BigInt(data.length - 1));
    if (a === undefined || last === undefined || last < a) return EFAULT;
    if (!this.machine.mem.poke(a, data)) return EFAULT;
    // Written while running: a planted int3 stays planted over the new bytes.
    if (this.core.state !== 'stopped') this.core.sw.rewritten(a, data);
    return undefined;
  }

  // ------------------------------------------------------------ breakpoints

  supportsBreakpoint(kind: BreakKind): boolean {
    if (kind === 'sw') return true;
    return this.hw?.supports(kind) ?? false;
  }

  insertBreakpoint(kind: BreakKind, addr: bigint, length: number): Errno | undefined {
    const a = fromU64(addr);
    if (a === undefined) return EFAULT;
    if (kind === 'sw') {
      // x86 breakpoint kind is the length of the int3 instruction: 1.
      if (length !== 1) return EINVAL;
      const r = this.core.sw.set(a);
      return r === 'ok' ? undefined : r === 'full' ? ENOSPC : EFAULT;
    }
    if (!this.hw) return EINVAL;
    return this.hw.insert(kind, a, length);
  }

  removeBreakpoint(kind: BreakKind, addr: bigint, length: number): Errno | undefined {
    const a = fromU64(addr);
    if (a === undefined) return EFAULT;
    if (kind === 'sw') {
      if (length !== 1) return EINVAL;
      this.core.sw.remove(a);
      return undefined;
    }
    if (!this.hw) return EINVAL;
    return this.hw.remove(kind, a, length);
  }

  // ------------------------------------------------------------ run control

  resume(actions: ResumeAction[], resumeAddr?: bigint): Errno | undefined {
    if (this.core.state !== 'stopped') return EINVAL;
    const n = this.machine.cpus.length;
    const plans: CpuPlan[] = new Array<CpuPlan>(n).fill('hold');
    const decided = new Array<boolean>(n).fill(false);
    /** A step of a task that is on no CPU (see below). */
    let sleeperStep: TaskView | undefined;
    // vCont: the leftmost action that matches a thread applies to it.
    for (const a of actions) {
      if (a.thread === -1 || a.thread === 0) {
        for (let c = 0; c < n; c++) if (!decided[c]) {
          plans[c] = a.kind === 'step' ? 'step' : 'continue';
          decided[c] = true;
        }
        continue;
      }
      const r = resolveThread(a.thread, n, this.kernel, this.numbering);
      if (r === undefined) return EINVAL;
      if (r.kind === 'sleeping') {
        // A task that is not on a CPU cannot execute an instruction until the
        // scheduler picks it. Stepping it means: run until it is back on a CPU,
        // then step that one instruction (docs/kgdb.md). Continuing it means
        // letting the machine run, which the default action decides.
        if (a.kind === 'step' && sleeperStep === undefined) {
          if (r.task.saved.rip === 0) return EINVAL;
          sleeperStep = r.task;
        }
        continue;
      }
      if (!decided[r.cpu]) {
        plans[r.cpu] = a.kind === 'step' ? 'step' : 'continue';
        decided[r.cpu] = true;
      }
    }
    const steps = plans.filter((p) => p === 'step').length;
    if (steps > 1) {
      // Only one CPU can be single-stepped at a time (one TF owner, as kgdb).
      // gdb never asks for more in all-stop mode; treat extra steps as continue.
      let first = true;
      for (let c = 0; c < n; c++) if (plans[c] === 'step') {
        if (!first) plans[c] = 'continue';
        first = false;
      }
    }
    if (sleeperStep !== undefined) {
      // Its CPU-to-be is unknown: every CPU must run for the scheduler to pick it
      // (even with scheduler-locking, nothing else could ever run it). No other step.
      for (let c = 0; c < n; c++) plans[c] = 'continue';
    }
    if (!plans.some((p) => p !== 'hold')) return EINVAL;
    if (resumeAddr !== undefined) {
      const a = fromU64(resumeAddr);
      const e = this.core.entry;
      if (a === undefined || e === null) return EFAULT;
      this.machine.cpus[e.cpu].rip = a;
    }
    this.lastStop = null;
    if (sleeperStep !== undefined) {
      const pid = sleeperStep.pid;
      this.core.stepWhenScheduled(sleeperStep.saved.rip, (cpu) => this.kernel.currentPid(cpu.id) === pid);
    }
    this.core.resume(plans);
    this.runner.kick();
    return undefined;
  }

  detach(): void {
    this.onStop = null;
    this.hw?.removeAll();
    this.core.detach();
    this.lastStop = null;
    this.runner.kick();
  }

  // ------------------------------------------------------------ monitor

  monitor(command: string): string {
    const cmd = command.trim();
    const extra = this.extraMonitor?.(cmd);
    if (extra !== undefined) return extra;
    switch (cmd.split(/\s+/)[0]) {
      case '':
      case 'help':
        return [
          'kgdb-sim monitor commands:',
          '  cpus     each CPU: state, rip, current task, roundup status',
          '  tasks    every task: pid, name, state, CPU',
          '  dmesg    the kernel log buffer',
          '  watchdog clocksource + softlockup watchdogs: touch timestamps, sync flags, watchdog_lock, events (issue 5)',
          '  kgdb     debug-core log (roundup, timeouts)',
          ...(this.hw ? ['  hwbp     hardware breakpoint slots and DR7, per CPU'] : []),
          '',
        ].join('\n');
      case 'cpus':
        return this.machine.cpus
          .map((c) => {
            const pid = this.kernel.currentPid(c.id);
            const role = this.core.entry?.cpu === c.id ? 'master' : c.frozen ? 'slave' : 'running';
            const missed = this.core.notResponding.includes(c.id) ? ' (missed roundup)' : '';
            return `CPU${c.id}: ${role}${missed} rip=0x${BigInt.asUintN(64, BigInt(c.rip)).toString(16)} ${pid > 0 ? `pid ${pid}` : 'idle'} retired=${c.retired}`;
          })
          .join('\n') + '\n';
      case 'tasks':
        return this.kernel.tasks().map((t) => `${t.pid}\t${t.name}\t${t.state}\t${t.onCpu >= 0 ? `on CPU${t.onCpu}` : `cpu ${t.cpu}`}`).join('\n') + '\n';
      case 'dmesg':
        return this.kernel.dmesg();
      case 'kgdb':
        return this.core.log.join('\n') + '\n';
      case 'hwbp':
        if (this.hw) return this.hw.describe();
        break;
    }
    return `unknown monitor command "${cmd}"; try "monitor help"\n`;
  }

  /** For tests: the stop that is pending with nobody listening. */
  get pendingStop(): Entry | null {
    return this.unreported;
  }

  isShadowThread(tid: number): boolean {
    return isShadow(tid, this.machine.cpus.length, this.numbering);
  }
}

function taskExtra(t: TaskView): string {
  const where = t.onCpu >= 0 ? `on CPU${t.onCpu}` : `last CPU${t.cpu}`;
  return `${t.name} pid ${t.pid} ${t.state} ${where}`;
}

/** Registers of a task that is not on a CPU: what __switch_to saved (kgdb's sleeping_thread_to_gdb_regs). */
function sleepingRegs(t: TaskView, out: Uint8Array): void {
  const dv = new DataView(out.buffer);
  const put = (regno: number, v: number): void => {
    const at = registerOffset(regno);
    dv.setInt32(at, v | 0, true);
    dv.setInt32(at + 4, Math.floor(v / 4294967296) | 0, true);
  };
  put(REG_RIP, t.saved.rip);
  put(REG_RSP, t.saved.rsp);
  put(REG_RBP, t.saved.rbp);
  const seg = (name: string, v: number): void => {
    const i = REGISTERS.findIndex((r) => r.name === name);
    dv.setUint32(registerOffset(i), v, true);
  };
  seg('cs', 0x10);
  seg('ss', 0x18);
  seg('ds', 0x18);
  seg('es', 0x18);
  seg('eflags', 0x2);
  const fp = resetFpState();
  const st0 = REGISTERS.findIndex((r) => r.name === 'st0');
  out.set(fp, registerOffset(st0));
}
