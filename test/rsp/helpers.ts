// Test doubles for the rsp library: a fake Target that records every call, a
// fake Transport, and an independent client-side packet decoder (RLE, escapes,
// checksums) so the writer is checked against something it did not produce.
import type {
  BreakKind,
  Errno,
  NegotiatedFeatures,
  ResumeAction,
  StopEvent,
  Target,
  ThreadInfo,
} from '../../src/rsp/target.js';
import { EFAULT } from '../../src/rsp/target.js';
import type { Transport } from '../../src/rsp/transport/types.js';

export type Call = [string, ...unknown[]];

export const TARGET_XML = '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>i386:x86-64</architecture></target>';

/** A 4-register machine with 4 KiB of memory at 0x1000 and threads 1, 2, 0x1f. */
export class FakeTarget implements Target {
  calls: Call[] = [];
  features: ReadonlyMap<string, string> = new Map([['target.xml', TARGET_XML]]);
  readonly registerSizes: readonly number[] = [8, 8, 8, 4];
  regs = new Map<number, Uint8Array>();
  mem = new Uint8Array(0x1000);
  memBase = 0x1000n;
  threadList: ThreadInfo[] = [
    { id: 1, extra: 'init pid 1 running CPU0' },
    { id: 2, extra: 'kworker pid 2 sleeping' },
    { id: 0x1f, extra: 'counter pid 31' },
  ];
  current = 1;
  running = false;
  onStop: ((ev: StopEvent) => void) | null = null;
  /** When set, resume() schedules this stop (async) automatically. */
  autoStop: StopEvent | null = null;
  hwSupported = true;

  private rec(...c: Call): void {
    this.calls.push(c);
  }

  attach(onStop: (ev: StopEvent) => void): void {
    this.rec('attach');
    this.onStop = onStop;
  }
  negotiated(f: NegotiatedFeatures): void {
    this.rec('negotiated', { ...f });
  }
  isRunning(): boolean {
    this.rec('isRunning');
    return this.running;
  }
  interrupt(): void {
    this.rec('interrupt');
    if (!this.running) return;
    this.running = false;
    this.onStop?.({ signal: 2, thread: this.current });
  }
  haltReason(): StopEvent {
    this.rec('haltReason');
    this.running = false;
    return { signal: 5, thread: this.current };
  }
  threads(): ThreadInfo[] {
    this.rec('threads');
    return this.threadList;
  }
  currentThread(): number {
    this.rec('currentThread');
    return this.current;
  }
  threadAlive(tid: number): boolean {
    this.rec('threadAlive', tid);
    return this.threadList.some((t) => t.id === tid);
  }
  private block(tid: number): Uint8Array {
    let r = this.regs.get(tid);
    if (!r) {
      r = new Uint8Array(this.registerSizes.reduce((x, y) => x + y, 0));
      for (let i = 0; i < r.length; i++) r[i] = (tid * 16 + i) & 0xff;
      this.regs.set(tid, r);
    }
    return r;
  }
  readRegisters(tid: number): Uint8Array | Errno {
    this.rec('readRegisters', tid);
    return this.block(tid).slice();
  }
  writeRegisters(tid: number, data: Uint8Array): Errno | undefined {
    this.rec('writeRegisters', tid, Buffer.from(data).toString('hex'));
    this.block(tid).set(data);
    return undefined;
  }
  private offset(regno: number): number {
    return this.registerSizes.slice(0, regno).reduce((a, b) => a + b, 0);
  }
  readRegister(tid: number, regno: number): Uint8Array | Errno {
    this.rec('readRegister', tid, regno);
    const o = this.offset(regno);
    return this.block(tid).slice(o, o + this.registerSizes[regno]!);
  }
  writeRegister(tid: number, regno: number, data: Uint8Array): Errno | undefined {
    this.rec('writeRegister', tid, regno, Buffer.from(data).toString('hex'));
    this.block(tid).set(data, this.offset(regno));
    return undefined;
  }
  private inRange(addr: bigint, len: number): boolean {
    return addr >= this.memBase && addr + BigInt(len) <= this.memBase + BigInt(this.mem.length);
  }
  readMemory(addr: bigint, len: number): Uint8Array | Errno {
    this.rec('readMemory', addr, len);
    if (!this.inRange(addr, len)) return EFAULT;
    const o = Number(addr - this.memBase);
    return this.mem.slice(o, o + len);
  }
  writeMemory(addr: bigint, data: Uint8Array): Errno | undefined {
    this.rec('writeMemory', addr, Buffer.from(data).toString('hex'));
    if (!this.inRange(addr, data.length)) return EFAULT;
    this.mem.set(data, Number(addr - this.memBase));
    return undefined;
  }
  insertBreakpoint(kind: BreakKind, addr: bigint, length: number): Errno | undefined {
    this.rec('insertBreakpoint', kind, addr, length);
    return undefined;
  }
  removeBreakpoint(kind: BreakKind, addr: bigint, length: number): Errno | undefined {
    this.rec('removeBreakpoint', kind, addr, length);
    return undefined;
  }
  supportsBreakpoint(kind: BreakKind): boolean {
    this.rec('supportsBreakpoint', kind);
    return kind === 'sw' || (this.hwSupported && kind !== 'read');
  }
  resume(actions: ResumeAction[], resumeAddr?: bigint): Errno | undefined {
    if (resumeAddr === undefined) this.rec('resume', actions);
    else this.rec('resume', actions, resumeAddr);
    this.running = true;
    const ev = this.autoStop;
    if (ev) {
      setImmediate(() => {
        if (!this.running) return;
        this.running = false;
        this.onStop?.(ev);
      });
    }
    return undefined;
  }
  /** Test hook: the machine hits something. */
  stop(ev: StopEvent): void {
    this.running = false;
    this.onStop?.(ev);
  }
  detach(): void {
    this.rec('detach');
    this.running = true;
  }
  monitor(command: string): string {
    this.rec('monitor', command);
    if (command === 'big') return 'x'.repeat(5000);
    return command === 'quiet' ? '' : `ran ${command}\n`;
  }

  /** Calls other than the ones a session makes by itself at start. */
  get work(): Call[] {
    return this.calls.filter((c) => c[0] !== 'attach' && c[0] !== 'negotiated');
  }
}

export class FakeTransport implements Transport {
  writes: Buffer[] = [];
  closed = false;
  private dataL: Array<(c: Uint8Array) => void> = [];
  private closeL: Array<() => void> = [];
  write(bytes: Uint8Array): void {
    this.writes.push(Buffer.from(bytes));
  }
  close(): void {
    this.closed = true;
  }
  onData(l: (c: Uint8Array) => void): void {
    this.dataL.push(l);
  }
  onClose(l: () => void): void {
    this.closeL.push(l);
  }
  feed(data: string | Uint8Array): void {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    for (const l of this.dataL) l(b);
  }
  drop(): void {
    for (const l of this.closeL) l();
  }
  /** Everything written since the last take(), as latin1. */
  take(): string {
    const s = Buffer.concat(this.writes).toString('latin1');
    this.writes = [];
    return s;
  }
}

export function sum(s: string | Uint8Array): number {
  const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  let x = 0;
  for (const c of b) x += c;
  return x & 0xff;
}

/** Frame a packet as gdb would (escaping binary if asked). */
export function frame(payload: string | Uint8Array, escapeBinary = false): Buffer {
  let b = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : Buffer.from(payload);
  if (escapeBinary) {
    const out: number[] = [];
    for (const c of b) {
      if (c === 0x23 || c === 0x24 || c === 0x7d || c === 0x2a) out.push(0x7d, c ^ 0x20);
      else out.push(c);
    }
    b = Buffer.from(out);
  }
  return Buffer.concat([Buffer.from('$'), b, Buffer.from('#' + sum(b).toString(16).padStart(2, '0'))]);
}

export function pkt(payload: string): string {
  return frame(payload).toString('latin1');
}

export interface Decoded {
  acks: string; // '+'/'-' seen between packets, in order
  packets: Buffer[]; // raw payload after RLE expansion (escapes NOT undone)
}

/** gdb's read_frame: checksum over the raw bytes, then expand `c*N`. Throws on any violation. */
export function decodeStream(stream: string): Decoded {
  const b = Buffer.from(stream, 'latin1');
  const res: Decoded = { acks: '', packets: [] };
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c === 0x2b || c === 0x2d) {
      res.acks += String.fromCharCode(c);
      i++;
      continue;
    }
    if (c !== 0x24) throw new Error(`junk byte ${c} at ${i} in ${JSON.stringify(stream)}`);
    const hash = b.indexOf(0x23, i + 1);
    if (hash < 0 || hash + 2 >= b.length) throw new Error('truncated packet');
    const raw = b.subarray(i + 1, hash);
    const cs = parseInt(b.toString('latin1', hash + 1, hash + 3), 16);
    if (cs !== sum(raw)) throw new Error(`bad checksum in ${JSON.stringify(stream)}`);
    const out: number[] = [];
    for (let j = 0; j < raw.length; j++) {
      if (raw[j] === 0x2a) {
        const n = raw[++j]! - 29;
        if (n < 3 || raw[j] === 0x23 || raw[j] === 0x24 || raw[j]! > 126) throw new Error('bad run length');
        const prev = out[out.length - 1]!;
        for (let k = 0; k < n; k++) out.push(prev);
      } else out.push(raw[j]!);
    }
    res.packets.push(Buffer.from(out));
    i = hash + 3;
  }
  return res;
}

/** Undo `}` escapes (gdb's remote_unescape_input, for binary replies). */
export function unescapeBinary(b: Uint8Array): Buffer {
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x7d) out.push(b[++i]! ^ 0x20);
    else out.push(b[i]!);
  }
  return Buffer.from(out);
}

/** Replies as text, acks dropped. */
export function replies(stream: string): string[] {
  return decodeStream(stream).packets.map((p) => p.toString('latin1'));
}

/** Deterministic PRNG for the fuzz-ish tests (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
