// One debugger connection: bytes in from a Transport → framer → parser →
// dispatch to the Target → replies out through the writer.
//
// Ordering rules that matter to gdb:
//  - every good packet is acked `+` (until no-ack mode) and the ack and the reply
//    leave in ONE transport write (TCP Nagle + delayed ACK would otherwise add
//    ~40 ms per packet); replies produced while handling one input chunk are
//    coalesced the same way;
//  - a `-` from gdb re-sends our last reply; a bad checksum from gdb gets `-`;
//  - QStartNoAckMode: its `OK` still travels in ack mode (gdb acks it once),
//    after that nobody acks;
//  - a Ctrl-C (0x03) while the target runs interrupts it; one that arrives
//    while stopped is remembered and applied right after the next resume.
import { parseCommand } from './commands/index.js';
import type { Command, GdbFeatures, ParseContext } from './commands/types.js';
import { bytesToHex, hex2, textToHex } from './hex.js';
import { Framer, type FrameHandler } from './framer.js';
import { profileByName, type ProfileName, type WireProfile } from './profile.js';
import { EBUSY, EINVAL, EPERM, type Errno, type ResumeAction, type StopEvent, type Target } from './target.js';
import type { Logger, Transport } from './transport/types.js';
import { encodePacket, printable } from './writer.js';

export type TraceDirection = 'recv' | 'send';
/** --trace hook: every packet (and ack / Ctrl-C) both ways, binary bytes escaped. */
export type TraceLogger = (direction: TraceDirection, text: string) => void;

export interface SessionOptions {
  /** Wire behaviour; default 'modern'. */
  profile?: ProfileName | WireProfile;
  /** Largest packet payload accepted (modern: advertised as PacketSize). Default from the profile. */
  maxPacket?: number;
  trace?: TraceLogger;
  log?: Logger;
}

export type SessionEndReason = 'detach' | 'kill' | 'disconnect';

const ACK = Buffer.from('+', 'latin1');
const NACK = Buffer.from('-', 'latin1');
/** qXfer replies are escaped binary: worst case doubles, plus the 'm'/'l' marker. */
const xferCapacity = (maxPacket: number): number => Math.max(1, Math.floor((maxPacket - 1) / 2));

export class Session {
  /** Resolves once, when the session is over (after the Target was detached). */
  readonly ended: Promise<SessionEndReason>;

  private readonly profile: WireProfile;
  private readonly maxPacket: number;
  private readonly ctx: ParseContext;
  private readonly framer: Framer;
  private readonly trace: TraceLogger | undefined;
  private readonly log: Logger;
  private resolveEnded!: (r: SessionEndReason) => void;

  private done = false;
  private noAck = false;
  /** Our last reply, for gdb's `-`. */
  private lastReply: Buffer | null = null;
  /** Bytes produced while handling input; written in one go by flush(). */
  private out: Buffer[] = [];
  /** >0 while handling input: replies wait for flush() at the end of the chunk. */
  private depth = 0;
  /** A resume was issued and its stop reply is still owed. */
  private waitingForStop = false;
  private pendingInterrupt = false;
  /** Hg / Hc selections (0 = any, -1 = all). */
  private gThread = 0;
  private cThread = 0;
  /** Thread ids of the listing in progress (qfThreadInfo … qsThreadInfo). */
  private threadList: number[] = [];
  private threadCursor = 0;
  private gdbFeatures: GdbFeatures = new Map();

  constructor(
    private readonly transport: Transport,
    private readonly target: Target,
    options: SessionOptions = {},
  ) {
    this.profile = typeof options.profile === 'object' ? options.profile : profileByName(options.profile ?? 'modern');
    this.maxPacket = options.maxPacket ?? this.profile.defaultMaxPacket;
    this.ctx = { maxPacket: this.maxPacket };
    this.trace = options.trace;
    this.log = options.log ?? (() => {});
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    this.framer = new Framer(this.frameHandler(), this.maxPacket);

    target.attach((ev) => this.onStop(ev));
    target.negotiated?.({ swbreak: false, hwbreak: false });
    transport.onData((chunk) => this.onData(chunk));
    transport.onClose(() => {
      if (this.done) return;
      this.log(this.framer.inPacket ? 'rsp: connection lost mid-packet' : 'rsp: connection closed by the debugger');
      this.end('disconnect');
    });
  }

  // ---- input -------------------------------------------------------------

  private onData(chunk: Uint8Array): void {
    if (this.done) return;
    this.depth++;
    try {
      this.framer.push(chunk);
    } finally {
      this.depth--;
    }
    this.flush();
  }

  private frameHandler(): FrameHandler {
    return {
      ack: () => {
        this.trace?.('recv', '+');
      },
      nack: () => {
        this.trace?.('recv', '-');
        if (this.done || this.noAck || this.lastReply === null) return;
        this.queue(this.lastReply);
        this.trace?.('send', `(retransmit) ${printable(this.lastReply)}`);
      },
      interrupt: () => {
        this.trace?.('recv', '^C');
        if (this.done) return;
        if (this.waitingForStop) this.callTarget(() => this.target.interrupt());
        else this.pendingInterrupt = true;
      },
      packet: (payload) => {
        this.trace?.('recv', printable(payload));
        if (this.done) return;
        if (!this.noAck) this.queue(ACK);
        this.handlePacket(payload);
      },
      badChecksum: (payload) => {
        this.trace?.('recv', `(bad checksum) ${printable(payload)}`);
        if (this.done) return;
        if (this.noAck) {
          // Nobody will retransmit in no-ack mode; like gdbserver, take it as is.
          this.log('rsp: bad checksum in no-ack mode; packet used anyway');
          this.handlePacket(payload);
        } else {
          this.queue(NACK);
        }
      },
      oversize: (length, checksumOk) => {
        this.log(`rsp: dropped a ${length}-byte packet (limit ${this.maxPacket})`);
        if (this.done || this.profile.silentOversize) return;
        if (!checksumOk && !this.noAck) {
          this.queue(NACK);
          return;
        }
        if (!this.noAck) this.queue(ACK);
        this.replyError(EINVAL);
      },
    };
  }

  private handlePacket(payload: Buffer): void {
    const cmd = parseCommand(payload, this.ctx);
    if (cmd.type === 'error') {
      this.log(`rsp: rejected ${printable(payload, 64)}: ${cmd.reason}`);
      this.replyError(cmd.errno);
      return;
    }
    if (this.profile.unsupported.has(cmd.type)) {
      this.reply('');
      return;
    }
    this.callTarget(() => this.dispatch(cmd));
  }

  /** Target code must never kill the session: a throw becomes an `E` reply and a log line. */
  private callTarget(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log(`rsp: target error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (!this.done) this.replyError(EPERM);
    }
  }

  // ---- dispatch ----------------------------------------------------------

  private dispatch(cmd: Command): void {
    const t = this.target;
    switch (cmd.type) {
      case 'unknown':
      case 'mustReplyEmpty':
      case 'traceStatus':
        return this.reply('');
      case 'haltReason': {
        const ev = t.haltReason();
        this.noteStop(ev);
        return this.reply(this.profile.shortHaltReply ? 'S' + hex2(ev.signal) : this.stopReply(ev));
      }
      case 'readRegisters': {
        const r = t.readRegisters(this.registerThread());
        return typeof r === 'number' ? this.replyError(r) : this.reply(bytesToHex(r));
      }
      case 'writeRegisters': {
        // G carries the same block as g: the first gRegisterCount registers (default all).
        const total = t.registerSizes.slice(0, t.gRegisterCount ?? t.registerSizes.length).reduce((a, b) => a + b, 0);
        if (cmd.data.length !== total) return this.replyError(EINVAL);
        return this.replyStatus(t.writeRegisters(this.registerThread(), cmd.data));
      }
      case 'readRegister': {
        if (cmd.regno >= t.registerSizes.length) return this.replyError(EINVAL);
        const r = t.readRegister(this.registerThread(), cmd.regno);
        return typeof r === 'number' ? this.replyError(r) : this.reply(bytesToHex(r));
      }
      case 'writeRegister': {
        if (cmd.regno >= t.registerSizes.length || cmd.data.length !== t.registerSizes[cmd.regno]) {
          return this.replyError(EINVAL);
        }
        return this.replyStatus(t.writeRegister(this.registerThread(), cmd.regno, cmd.data));
      }
      case 'readMemory': {
        if (cmd.length === 0) return this.reply(''); // defined no-op: touches nothing
        const r = t.readMemory(cmd.addr, cmd.length);
        if (typeof r === 'number') return this.replyError(r);
        return this.reply(bytesToHex(r.length > cmd.length ? r.subarray(0, cmd.length) : r));
      }
      case 'writeMemory':
        if (cmd.data.length === 0) return this.reply('OK'); // defined no-op (gdb probes X with it)
        return this.replyStatus(t.writeMemory(cmd.addr, cmd.data));
      case 'legacyResume': {
        // Hc picks the thread; without one, `s` steps the Hg/current thread with the
        // others held (as Linux kgdb does) and `c` resumes everything.
        let thread = -1;
        if (this.cThread > 0) thread = this.cThread;
        else if (cmd.step) thread = this.gThread > 0 ? this.gThread : t.currentThread();
        const action: ResumeAction = { kind: cmd.step ? 'step' : 'continue', thread };
        if (cmd.signal !== undefined) action.signal = cmd.signal;
        return this.resume([action], cmd.addr);
      }
      case 'vContQuery':
        return this.reply('vCont;c;C;s;S');
      case 'vCont':
        return this.resume(cmd.actions);
      case 'setThread':
        if (cmd.thread > 0 && !t.threadAlive(cmd.thread)) return this.replyError(EINVAL);
        if (cmd.op === 'g') this.gThread = cmd.thread;
        else this.cThread = cmd.thread;
        return this.reply('OK');
      case 'threadAlive':
        return t.threadAlive(cmd.thread) ? this.reply('OK') : this.replyError(EINVAL);
      case 'currentThread':
        return this.reply('QC' + this.profile.formatThreadId(t.currentThread()));
      case 'threadInfoFirst':
        this.threadList = t.threads().map((th) => th.id);
        this.threadCursor = 0;
        return this.replyThreadBatch();
      case 'threadInfoNext':
        return this.replyThreadBatch();
      case 'threadExtraInfo': {
        const info = t.threads().find((th) => th.id === cmd.thread);
        return info === undefined ? this.replyError(EINVAL) : this.reply(textToHex(info.extra));
      }
      case 'supported':
        this.gdbFeatures = cmd.features;
        t.negotiated?.({ swbreak: this.gdbAsked('swbreak'), hwbreak: this.gdbAsked('hwbreak') });
        return this.reply(this.supportedReply());
      case 'xferFeatures':
        return this.replyXfer(cmd.annex, cmd.offset, cmd.length);
      case 'attached':
        // "attached to an existing process": gdb detaches instead of killing on quit.
        return this.reply('1');
      case 'symbol':
        return this.reply('OK'); // no symbols wanted
      case 'monitor':
        return this.replyMonitor(t.monitor(cmd.command));
      case 'startNoAck':
        this.reply('OK');
        this.noAck = true;
        return;
      case 'breakpoint': {
        // An unsupported type gets the empty reply so gdb falls back (e.g. to memory writes).
        if (!t.supportsBreakpoint(cmd.kind)) return this.reply('');
        const err = cmd.insert
          ? t.insertBreakpoint(cmd.kind, cmd.addr, cmd.length)
          : t.removeBreakpoint(cmd.kind, cmd.addr, cmd.length);
        return this.replyStatus(err);
      }
      case 'detach':
        this.reply('OK');
        return this.end('detach');
      case 'kill':
        return this.end('kill');
    }
  }

  /** Whose registers g/G/p/P see: the Hg thread, else the current (stopped) one. */
  private registerThread(): number {
    return this.gThread > 0 ? this.gThread : this.target.currentThread();
  }

  private resume(actions: ResumeAction[], addr?: bigint): void {
    if (this.waitingForStop) {
      this.log('rsp: resume while already running; rejected');
      return this.replyError(EBUSY);
    }
    this.waitingForStop = true;
    let err: Errno | undefined;
    try {
      err = addr === undefined ? this.target.resume(actions) : this.target.resume(actions, addr);
    } catch (e) {
      this.waitingForStop = false;
      throw e;
    }
    if (err !== undefined) {
      this.waitingForStop = false;
      return this.replyError(err);
    }
    // A Ctrl-C that arrived while stopped: the target stops again at once (SIGINT).
    if (this.pendingInterrupt && this.waitingForStop) {
      this.pendingInterrupt = false;
      this.target.interrupt();
    }
  }

  // ---- stop replies --------------------------------------------------------

  private onStop(ev: StopEvent): void {
    if (this.done) return;
    if (!this.waitingForStop) {
      this.log(`rsp: unsolicited stop (signal ${ev.signal}, thread ${ev.thread}) ignored`);
      return;
    }
    this.noteStop(ev);
    this.reply(this.stopReply(ev));
    if (this.depth === 0) this.flush();
  }

  /** After a stop gdb assumes the general thread is the stopped one (remote.c record_currthread). */
  private noteStop(ev: StopEvent): void {
    this.waitingForStop = false;
    this.gThread = ev.thread;
  }

  private gdbAsked(feature: string): boolean {
    return this.gdbFeatures.get(feature) === '+';
  }

  private stopReply(ev: StopEvent): string {
    let s = 'T' + hex2(ev.signal) + 'thread:' + this.profile.formatThreadId(ev.thread) + ';';
    if (!this.profile.richStopReply) return s;
    if (ev.expedite !== undefined) {
      for (const [regno, bytes] of ev.expedite) {
        s += (regno < 0x100 ? hex2(regno) : regno.toString(16)) + ':' + bytesToHex(bytes) + ';';
      }
    }
    const r = ev.reason;
    if (r !== undefined) {
      if (r.kind === 'swbreak') {
        if (this.gdbAsked('swbreak') && this.target.supportsBreakpoint('sw')) s += 'swbreak:;';
      } else if (r.kind === 'hwbreak') {
        if (this.gdbAsked('hwbreak') && this.target.supportsBreakpoint('hw')) s += 'hwbreak:;';
      } else {
        s += `${r.kind}:${r.addr.toString(16)};`;
      }
    }
    return s;
  }

  // ---- query replies -------------------------------------------------------

  /** Advertise only what this session really implements for this target. */
  private supportedReply(): string {
    const t = this.target;
    const f = [`PacketSize=${this.maxPacket.toString(16)}`, 'QStartNoAckMode+'];
    if (t.features.size > 0) f.push('qXfer:features:read+');
    if (t.supportsBreakpoint('sw')) f.push('swbreak+');
    if (t.supportsBreakpoint('hw')) f.push('hwbreak+');
    f.push('vContSupported+');
    return f.join(';');
  }

  private replyThreadBatch(): void {
    const ids = this.threadList;
    if (this.threadCursor >= ids.length) return this.reply(this.profile.threadListEnd);
    const fmt = this.profile.formatThreadId;
    const limit = this.profile.threadsPerReply;
    let s = 'm';
    let count = 0;
    while (this.threadCursor < ids.length) {
      if (limit !== undefined && count >= limit) break;
      const id = fmt(ids[this.threadCursor]!);
      const next = count === 0 ? id : ',' + id;
      if (count > 0 && s.length + next.length > this.maxPacket) break;
      s += next;
      count++;
      this.threadCursor++;
    }
    this.reply(s);
  }

  private replyXfer(annex: string, offset: number, length: number): void {
    const text = this.target.features.get(annex);
    if (text === undefined) return this.replyError(EINVAL);
    const data = Buffer.from(text, 'utf8');
    if (offset > data.length) return this.replyError(EINVAL);
    const n = Math.min(length, xferCapacity(this.maxPacket), data.length - offset);
    const more = offset + n < data.length;
    const body = Buffer.allocUnsafe(n + 1);
    body[0] = more ? 0x6d : 0x6c; // 'm' = more follows, 'l' = last
    data.copy(body, 1, offset, offset + n);
    this.reply(body, true);
  }

  /** Output fits one reply as hex; larger output goes as `O` console packets, then OK. */
  private replyMonitor(output: string): void {
    if (output === '') return this.reply('OK');
    const hex = textToHex(output);
    if (hex.length <= this.maxPacket) return this.reply(hex);
    const chunk = (this.maxPacket - 1) & ~1;
    for (let i = 0; i < hex.length; i += chunk) this.reply('O' + hex.slice(i, i + chunk));
    this.reply('OK');
  }

  // ---- output --------------------------------------------------------------

  private replyStatus(err: Errno | undefined): void {
    if (err === undefined) this.reply('OK');
    else this.replyError(err);
  }

  private replyError(errno: Errno): void {
    this.reply(this.profile.formatError(errno));
  }

  private reply(payload: string | Uint8Array, binary = false): void {
    const pkt = encodePacket(payload, { rle: this.profile.rle, binary });
    if (this.trace !== undefined) {
      this.trace('send', typeof payload === 'string' ? payload : printable(payload));
    }
    this.lastReply = pkt;
    this.queue(pkt);
  }

  private queue(bytes: Buffer): void {
    this.out.push(bytes);
  }

  private flush(): void {
    const out = this.out;
    if (out.length === 0) return;
    this.out = [];
    const bytes = out.length === 1 ? out[0]! : Buffer.concat(out);
    try {
      this.transport.write(bytes);
    } catch (e) {
      this.log(`rsp: write failed: ${String(e)}`);
    }
  }

  private end(reason: SessionEndReason): void {
    if (this.done) return;
    this.done = true;
    this.flush(); // D's OK goes out before the target runs free
    this.waitingForStop = false;
    this.pendingInterrupt = false;
    try {
      this.target.detach();
    } catch (e) {
      this.log(`rsp: target detach failed: ${String(e)}`);
    }
    this.log(`rsp: session ended (${reason})`);
    if (reason !== 'disconnect') this.transport.close();
    this.resolveEnded(reason);
  }
}
