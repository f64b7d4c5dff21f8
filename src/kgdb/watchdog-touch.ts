// The debugger's resume path for the watchdogs (seed 001 patches 3 and 4),
// plus the host's view of the kernel's watchdog events.
//
// Linux kgdb, on every CPU leaving kgdb_cpu_enter()/kgdb_wait():
//
//     touch_softlockup_watchdog_sync();   // patch 4
//     clocksource_touch_watchdog();       // patch 3, as merged by tglx: trylock
//
// Here the debug core is host code, so these are host functions doing exactly
// the kernel's stores on the leaving CPU's data (src/kernel/softlockup.ts and
// watchdog.ts hold the kernel-side versions and explain the watchdogs). They
// run while no guest instruction runs, so each store is atomic with respect to
// the kernel; the one thing they must respect is the kernel's locks:
//
// - watchdog_lock is taken only with a trylock. If it is held, the kernel was
//   stopped inside clocksource_watchdog (the holder is a CPU the debugger
//   holds, maybe the leaving CPU itself): the reset is skipped, the skip is
//   logged (dmesg, `monitor watchdog`, events) and the TSC may get marked
//   unstable — tglx's "acceptable penalty".
// - The kernel log is written only when logbuf_lock is free; otherwise the
//   line waits for the next host touchpoint (nothing on the resume path may
//   block on a lock the stopped kernel can hold — printk's included).
//
// `--legacy` brings the 2.6.33 regressions back, for teaching and tests:
// - clocksource-spinlock: the resume path spins on watchdog_lock. Spinning on
//   a lock held by a stopped CPU can never end: that CPU cannot run until this
//   one is done (if it is this very CPU, it is a self-deadlock: it spins on a
//   lock held by the code it interrupted). A host-side spin would hang the
//   simulator, so the spin is modelled: the CPU stays in the debugger
//   ("spinning in the resume path", frozen), the deadlock is detected and
//   reported (event `deadlock`, the debug-core log), and the rest of the
//   machine runs on if it can.
// - softlockup-nosync: touch_softlockup_watchdog() instead of the _sync
//   variant: a long pause gives a false "BUG: soft lockup".
// - no-touch: the debugger touches neither watchdog (what kgdb did before it
//   learned to): after a long pause the TSC is marked unstable and soft
//   lockups are reported.

import { LOG_BUF_LEN, PCPU, PERCPU_STRIDE, SYM } from '../kernel/layout.js';
import { symbolAddr, type Image } from '../kernel/link.js';
import { CLOCK_SOURCE_UNSTABLE, CLOCK_SOURCE_WATCHDOG, KEV, KEV_RING, KEV_SIZE, KEV_TSC_UNSTABLE, WD_SYM } from '../kernel/watchdog.js';
import { KEV_SOFT_LOCKUP, SOFTLOCKUP_THRESH } from '../kernel/softlockup.js';
import type { Cpu } from '../target/cpu.js';
import type { Machine } from '../target/machine.js';
import { canon } from '../system.js';

export const LEGACY_TOGGLES = ['clocksource-spinlock', 'softlockup-nosync', 'no-touch'] as const;
export type LegacyToggle = (typeof LEGACY_TOGGLES)[number];

/** "a,b" → the set; throws on an unknown name (the CLI turns it into a usage error). */
export function parseLegacy(list: string | undefined): Set<LegacyToggle> {
  const out = new Set<LegacyToggle>();
  if (list === undefined || list.trim() === '') return out;
  for (const raw of list.split(',')) {
    const name = raw.trim();
    if (!(LEGACY_TOGGLES as readonly string[]).includes(name)) {
      throw new Error(`unknown --legacy toggle "${name}" (known: ${LEGACY_TOGGLES.join(', ')})`);
    }
    out.add(name as LegacyToggle);
  }
  return out;
}

export type WatchdogEventKind =
  | 'soft-lockup' // the kernel printed "BUG: soft lockup - CPU#N stuck for Ns!"
  | 'tsc-unstable' // the clocksource watchdog marked the TSC unstable
  | 'watchdog-touch-skipped' // resume: watchdog_lock was held, the clocksource watchdog was not reset
  | 'deadlock' // legacy resume path spinning on a lock that can never be released
  | 'kgdb-resume'; // the debugger resumed the machine (context for the others)

export interface WatchdogEvent {
  kind: WatchdogEventKind;
  cpu: number;
  /** Virtual time, ns. */
  time: number;
  detail: string;
  /** soft-lockup: seconds stuck. */
  seconds?: number;
  /** soft-lockup: pid running. */
  pid?: number;
  /** tsc-unstable: TSC minus watchdog delta, ns. */
  delta_ns?: number;
  /** watchdog-touch-skipped / deadlock: CPU holding watchdog_lock. */
  holder?: number;
  /** deadlock: the CPU spins on a lock it holds itself. */
  self?: boolean;
  /** kgdb-resume: hardware time the stop added, ns. */
  held_ns?: number;
}

export interface WatchdogTouchOptions {
  legacy?: ReadonlySet<LegacyToggle>;
  /** Debug-core log (server stderr, `monitor kgdb`). */
  log?: (line: string) => void;
}

type CpuWd = 'ok' | 'spinning' | 'deadlocked';

/** Events kept per side (older ones are dropped and counted as lost; resume records first). */
const MAX_HOST_EVENTS = 4096;

export class WatchdogTouch {
  readonly legacy: ReadonlySet<LegacyToggle>;
  private readonly log: (line: string) => void;
  private readonly perCpu: number;
  private readonly lockAddr: number;
  private readonly flagsAddr: number;
  private readonly ring: number;
  private readonly ringHead: number;
  private readonly logBuf: number;
  private readonly logEnd: number;
  private readonly loggedChars: number;
  private readonly logbufLock: number;
  private readonly timerCpuAddr: number;
  private readonly timerExpAddr: number;
  private readonly jiffiesAddr: number;
  private readonly hostEvents: WatchdogEvent[] = [];
  private readonly kernelEvents: WatchdogEvent[] = [];
  private ringRead = 0;
  private lostEvents = 0;
  /** hw time → virtual time: each segment starts at a resume, hw = virtual + offset within it. */
  private readonly segments: Array<{ hwStart: number; offset: number }> = [{ hwStart: -Infinity, offset: 0 }];
  private readonly pendingLog: string[] = [];
  private readonly state: CpuWd[];

  constructor(
    readonly machine: Machine,
    image: Image,
    o: WatchdogTouchOptions = {},
  ) {
    this.legacy = o.legacy ?? new Set();
    this.log = o.log ?? (() => {});
    const s = (n: string): number => canon(symbolAddr(image, n));
    this.perCpu = s(SYM.perCpuArea);
    this.lockAddr = s(WD_SYM.lock);
    this.flagsAddr = s(WD_SYM.tscFlags);
    this.ring = s(WD_SYM.events);
    this.ringHead = s(WD_SYM.eventsHead);
    this.logBuf = s(SYM.logBuf);
    this.logEnd = s(SYM.logEnd);
    this.loggedChars = s('logged_chars');
    this.logbufLock = s('logbuf_lock');
    this.timerCpuAddr = s(WD_SYM.timerCpu);
    this.timerExpAddr = s(WD_SYM.timerExpires);
    this.jiffiesAddr = s(SYM.jiffies);
    this.state = machine.cpus.map(() => 'ok');
  }

  // ---------------------------------------------------------------- guest memory

  private u32(addr: number): number {
    return this.machine.mem.peekU32(addr) ?? 0;
  }
  private setU32(addr: number, v: number): void {
    this.machine.mem.pokeU32(addr, v);
  }
  private u64(addr: number): bigint {
    return this.machine.mem.peek64(addr) ?? 0n;
  }
  private pcpu(cpu: number, field: number): number {
    return this.perCpu + cpu * PERCPU_STRIDE + field;
  }

  // ---------------------------------------------------------------- the resume path

  /** ResumeHooks.cpuLeave: every CPU leaving the debugger comes through here. */
  cpuLeave(cpu: Cpu, heldNs: number): void {
    this.markResume(heldNs, cpu.id);
    this.collect();
    if (this.state[cpu.id] !== 'ok') {
      // Still spinning in the resume path from an earlier resume: it never left.
      cpu.frozen = true;
      this.reevaluateSpinners();
      return;
    }
    if (!this.legacy.has('no-touch')) {
      this.touchSoftlockup(cpu.id);
      this.touchClocksource(cpu);
    }
    this.reevaluateSpinners();
    this.flushLog();
  }

  /** touch_softlockup_watchdog_sync() — or, legacy softlockup-nosync, touch_softlockup_watchdog(). */
  private touchSoftlockup(cpu: number): void {
    if (!this.legacy.has('softlockup-nosync')) this.setU32(this.pcpu(cpu, PCPU.softlock_touch_sync), 1);
    this.machine.mem.poke64(this.pcpu(cpu, PCPU.softlockup_touch_ts), 0n);
  }

  /** clocksource_touch_watchdog(): trylock (fixed) or blocking spin (legacy) on watchdog_lock. */
  private touchClocksource(cpu: Cpu): void {
    const v = this.u32(this.lockAddr);
    if (v === 0) {
      // Free: take it, clocksource_reset_watchdog(), release. (Atomic: no guest code runs meanwhile.)
      this.setU32(this.lockAddr, cpu.id + 1);
      this.setU32(this.flagsAddr, this.u32(this.flagsAddr) & ~CLOCK_SOURCE_WATCHDOG);
      this.setU32(this.lockAddr, 0);
      return;
    }
    const holder = v - 1;
    if (!this.legacy.has('clocksource-spinlock')) {
      const why = holder === cpu.id ? 'this CPU was stopped inside clocksource_watchdog' : `CPU${holder} was stopped inside clocksource_watchdog`;
      this.event({
        kind: 'watchdog-touch-skipped', cpu: cpu.id, time: this.machine.now, holder,
        detail: `watchdog_lock held by CPU${holder} (${why}): trylock failed, clocksource watchdog not reset`,
      });
      this.klog(`kgdb: CPU${cpu.id}: clocksource_touch_watchdog: watchdog_lock held by CPU${holder}, watchdog not reset (tsc may be marked unstable)\n`);
      return;
    }
    // Legacy: spin_lock(&watchdog_lock). The holder cannot release it while we spin.
    cpu.frozen = true;
    if (holder === cpu.id) {
      this.state[cpu.id] = 'deadlocked';
      this.event({
        kind: 'deadlock', cpu: cpu.id, time: this.machine.now, holder, self: true,
        detail: `self-deadlock: CPU${cpu.id} spins on watchdog_lock in the debugger's resume path, but the lock is held by CPU${cpu.id} itself (the clocksource_watchdog it interrupted can never run again)`,
      });
    } else {
      this.state[cpu.id] = 'spinning';
    }
  }

  /** Spinners whose holder deadlocked are deadlocked too; spinners on a freed lock take it and leave. */
  private reevaluateSpinners(): void {
    for (const c of this.machine.cpus) {
      if (this.state[c.id] !== 'spinning') continue;
      const v = this.u32(this.lockAddr);
      if (v === 0) {
        this.state[c.id] = 'ok';
        c.frozen = false;
        c.attention = true;
        this.touchClocksource(c);
        continue;
      }
      const holder = v - 1;
      if (this.state[holder] === 'deadlocked' || this.machine.cpus[holder]?.dead) {
        this.state[c.id] = 'deadlocked';
        this.event({
          kind: 'deadlock', cpu: c.id, time: this.machine.now, holder, self: false,
          detail: `deadlock: CPU${c.id} spins on watchdog_lock in the debugger's resume path; its holder CPU${holder} can never release it`,
        });
      }
    }
  }

  /**
   * The debug core calls cpuLeave for each leaving CPU in increasing id order within one resume,
   * all in one host turn: a new resume starts when the id does not increase (or time moved).
   */
  private markResume(heldNs: number, cpu: number): void {
    if (this.machine.hwOffset !== this.segments[this.segments.length - 1].offset) {
      this.segments.push({ hwStart: this.machine.now + this.machine.hwOffset, offset: this.machine.hwOffset });
      // The ring is collected at every resume, so only recent segments can still
      // map an uncollected event: keep a bounded tail (the first stays as the floor).
      if (this.segments.length > 128) this.segments.splice(1, this.segments.length - 64);
    }
    const key = this.machine.now + this.machine.hwOffset;
    if (key === this.lastResumeKey && cpu > this.lastLeaveCpu) {
      this.lastLeaveCpu = cpu;
      return;
    }
    this.lastResumeKey = key;
    this.lastLeaveCpu = cpu;
    this.resumes++;
    this.event({ kind: 'kgdb-resume', cpu, time: this.machine.now, held_ns: heldNs, detail: `the debugger resumed the machine after holding it for ${(heldNs / 1e9).toFixed(3)} s of hardware time` });
  }
  private lastResumeKey = NaN;
  private lastLeaveCpu = -1;
  /** Resumes seen so far. */
  resumes = 0;

  private event(e: WatchdogEvent): void {
    this.hostEvents.push(e);
    if (this.hostEvents.length > MAX_HOST_EVENTS) {
      // Bounded: every resume (each single-step) adds one. Drop the oldest half
      // of the kgdb-resume context first; problems go only when nothing else can.
      let drop = MAX_HOST_EVENTS / 2;
      const kept = this.hostEvents.filter((x) => !(x.kind === 'kgdb-resume' && drop-- > 0));
      if (kept.length > MAX_HOST_EVENTS) kept.splice(0, kept.length - MAX_HOST_EVENTS);
      this.lostEvents += this.hostEvents.length - kept.length;
      this.hostEvents.splice(0, this.hostEvents.length, ...kept);
    }
    if (e.kind === 'deadlock' || e.kind === 'watchdog-touch-skipped') this.log(`KGDB: ${e.detail}`);
  }

  // ---------------------------------------------------------------- the kernel log

  /** Append a line to the kernel log, as printk would — only while logbuf_lock is free. */
  klog(line: string): void {
    this.pendingLog.push(line);
    this.flushLog();
  }

  /** Write pending kernel-log lines if logbuf_lock is free (call between machine runs). */
  flushLog(): void {
    if (this.pendingLog.length === 0 || this.u32(this.logbufLock) !== 0) return;
    let end = this.u64(this.logEnd);
    for (const line of this.pendingLog) {
      for (const ch of Buffer.from(line, 'latin1')) {
        this.machine.mem.poke(this.logBuf + Number(end % BigInt(LOG_BUF_LEN)), Uint8Array.of(ch));
        end++;
      }
    }
    this.pendingLog.length = 0;
    this.machine.mem.poke64(this.logEnd, end);
    this.machine.mem.poke64(this.loggedChars, end < BigInt(LOG_BUF_LEN) ? end : BigInt(LOG_BUF_LEN));
  }

  // ---------------------------------------------------------------- events

  private hwToVirtual(hw: number): number {
    for (let i = this.segments.length - 1; i > 0; i--) if (this.segments[i].hwStart <= hw) return hw - this.segments[i].offset;
    return hw - this.segments[0].offset;
  }

  /** Read new entries of the kernel's event ring (published ones only). */
  collect(): void {
    const head = Number(this.u64(this.ringHead));
    if (head - this.ringRead > KEV_RING) {
      this.lostEvents += head - KEV_RING - this.ringRead;
      this.ringRead = head - KEV_RING;
    }
    while (this.ringRead < head) {
      const at = this.ring + (this.ringRead % KEV_RING) * KEV_SIZE;
      const seq = Number(this.u64(at + KEV.seq));
      if (seq !== this.ringRead + 1) break; // being written right now (the CPU was between two quanta)
      const tsc = Number(this.u64(at + KEV.tsc));
      const cpu = this.u32(at + KEV.cpu);
      const kind = this.u32(at + KEV.kind);
      const value = BigInt.asIntN(64, this.u64(at + KEV.value));
      const value2 = Number(this.u64(at + KEV.value2));
      const time = this.hwToVirtual(tsc);
      if (kind === KEV_SOFT_LOCKUP) {
        this.kernelEvents.push({ kind: 'soft-lockup', cpu, time, seconds: Number(value), pid: value2, detail: `BUG: soft lockup - CPU#${cpu} stuck for ${value}s! (pid ${value2})` });
      } else if (kind === KEV_TSC_UNSTABLE) {
        this.kernelEvents.push({ kind: 'tsc-unstable', cpu, time, delta_ns: Number(value), detail: `Clocksource tsc unstable (delta = ${value} ns)` });
      }
      this.ringRead++;
    }
    if (this.kernelEvents.length > MAX_HOST_EVENTS) {
      this.lostEvents += this.kernelEvents.length - MAX_HOST_EVENTS;
      this.kernelEvents.splice(0, this.kernelEvents.length - MAX_HOST_EVENTS);
    }
  }

  /** Every event so far, in time order (kernel ones read from the ring now). */
  events(): WatchdogEvent[] {
    this.collect();
    this.flushLog();
    return [...this.hostEvents, ...this.kernelEvents].sort((a, b) => a.time - b.time);
  }

  /** The kinds that mean something went wrong (not context). */
  static problems(events: WatchdogEvent[]): WatchdogEvent[] {
    return events.filter((e) => e.kind !== 'kgdb-resume');
  }

  /** CPUs the legacy resume path left spinning on watchdog_lock. */
  stuckCpus(): number[] {
    return this.state.flatMap((s, i) => (s === 'ok' ? [] : [i]));
  }

  isDeadlocked(cpu: number): boolean {
    return this.state[cpu] === 'deadlocked';
  }

  // ---------------------------------------------------------------- monitor watchdog

  describe(): string {
    const events = this.events();
    const lock = this.u32(this.lockAddr);
    const flags = this.u32(this.flagsAddr);
    const lines: string[] = [];
    lines.push(`legacy: ${this.legacy.size === 0 ? 'none (fixed resume path: trylock, softlockup sync)' : [...this.legacy].join(',')}`);
    lines.push(
      `clocksource watchdog: tsc vs acpi_pm every 0.5 s; next on CPU${this.u32(this.timerCpuAddr)} at jiffy ${this.u64(this.timerExpAddr)} (now ${this.u64(this.jiffiesAddr)})`,
    );
    lines.push(`  watchdog_lock: ${lock === 0 ? 'free' : `held by CPU${lock - 1}`}`);
    lines.push(
      `  tsc: ${flags & CLOCK_SOURCE_UNSTABLE ? 'UNSTABLE (marked by the watchdog)' : 'stable'}; baseline: ${flags & CLOCK_SOURCE_WATCHDOG ? 'set' : 'reset (the next run takes a new one)'}`,
    );
    lines.push(`softlockup detector: threshold ${SOFTLOCKUP_THRESH} s of sched clock`);
    for (const c of this.machine.cpus) {
      const touch = this.u64(this.pcpu(c.id, PCPU.softlockup_touch_ts));
      const print = this.u64(this.pcpu(c.id, PCPU.softlockup_print_ts));
      const sync = this.u32(this.pcpu(c.id, PCPU.softlock_touch_sync));
      const wake = this.u32(this.pcpu(c.id, PCPU.softlockup_wake));
      const clk = Number(this.u64(this.pcpu(c.id, PCPU.sched_clock_tick_ns)));
      const tsc = this.machine.hwNow(c);
      const st = this.state[c.id];
      const where = st === 'ok' ? '' : st === 'spinning' ? '  SPINNING on watchdog_lock in the resume path' : '  DEADLOCKED in the resume path';
      lines.push(
        `  CPU${c.id}: touch_ts ${touch === 0n ? '0 (re-arm at next tick)' : `${touch} s`}, print_ts ${print} s, sync ${sync}, watchdog due ${wake}, ` +
          `sched clock ${(clk / 1e9).toFixed(3)} s, tsc ${(tsc / 1e9).toFixed(3)} s${where}`,
      );
    }
    const last = events.slice(-10);
    lines.push(`events (${events.length}${this.lostEvents ? `, ${this.lostEvents} lost` : ''}; last ${last.length}):`);
    for (const e of last) lines.push(`  ${(e.time / 1e9).toFixed(6)} CPU${e.cpu} ${e.kind}: ${e.detail}`);
    return lines.join('\n') + '\n';
  }
}
