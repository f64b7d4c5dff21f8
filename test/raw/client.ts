// A strict, independent RSP client over a real TCP socket for the raw-packet
// tests: it frames what it sends itself, checks every checksum it receives,
// expands run-length encoding, and treats any byte it does not expect (junk
// between packets, an ack in no-ack mode, an unsolicited packet) as a failure.

import net from 'node:net';

export function checksum(b: Uint8Array): number {
  let s = 0;
  for (const c of b) s += c;
  return s & 0xff;
}

/** `$payload#cc` (payload taken as is: escape it yourself for binary). */
export function frame(payload: string | Uint8Array, sum?: number): Buffer {
  const b = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : Buffer.from(payload);
  const cs = (sum ?? checksum(b)).toString(16).padStart(2, '0');
  return Buffer.concat([Buffer.from('$'), b, Buffer.from('#' + cs)]);
}

/** `}`-escape the four special bytes (X packet data). */
export function escapeBinary(data: Uint8Array): Buffer {
  const out: number[] = [];
  for (const c of data) {
    if (c === 0x23 || c === 0x24 || c === 0x7d || c === 0x2a) out.push(0x7d, c ^ 0x20);
    else out.push(c);
  }
  return Buffer.from(out);
}

export function unescapeBinary(b: Uint8Array): Buffer {
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x7d) out.push(b[++i]! ^ 0x20);
    else out.push(b[i]!);
  }
  return Buffer.from(out);
}

/** gdb's read_frame: `X*n` repeats X (n - 29) more times. Throws on an invalid run. */
export function expandRle(raw: Uint8Array): Buffer {
  const out: number[] = [];
  for (let j = 0; j < raw.length; j++) {
    if (raw[j] === 0x2a) {
      const c = raw[++j];
      if (c === undefined || out.length === 0) throw new Error('dangling run-length marker');
      const n = c - 29;
      if (n < 3 || c === 0x23 || c === 0x24 || c > 126) throw new Error(`bad run length byte ${c}`);
      const prev = out[out.length - 1]!;
      for (let k = 0; k < n; k++) out.push(prev);
    } else out.push(raw[j]!);
  }
  return Buffer.from(out);
}

export type Event = { kind: 'ack' } | { kind: 'nak' } | { kind: 'packet'; raw: Buffer; payload: Buffer; text: string };

export class RawClient {
  private buf = Buffer.alloc(0);
  private events: Event[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  /** After QStartNoAckMode: no acks either way. */
  noAck = false;
  /** Every event received, for failure messages. */
  readonly history: string[] = [];

  private constructor(readonly sock: net.Socket) {
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private parse(): void {
    for (;;) {
      if (this.buf.length === 0) return;
      const c = this.buf[0]!;
      if (c === 0x2b || c === 0x2d) {
        this.buf = this.buf.subarray(1);
        this.push(c === 0x2b ? { kind: 'ack' } : { kind: 'nak' });
        continue;
      }
      if (c !== 0x24) throw new Error(`junk byte 0x${c.toString(16)} from the stub; history: ${this.history.join(' | ')}`);
      const hash = this.buf.indexOf(0x23, 1);
      if (hash < 0 || hash + 2 >= this.buf.length) return; // incomplete
      const raw = Buffer.from(this.buf.subarray(1, hash));
      const cs = parseInt(this.buf.toString('latin1', hash + 1, hash + 3), 16);
      this.buf = this.buf.subarray(hash + 3);
      if (cs !== checksum(raw)) throw new Error(`bad checksum from the stub in ${raw.toString('latin1')}`);
      if (raw.includes(0x24)) throw new Error(`raw '$' inside a reply: ${raw.toString('latin1')}`);
      const payload = expandRle(raw);
      this.push({ kind: 'packet', raw, payload, text: payload.toString('latin1') });
    }
  }

  private push(e: Event): void {
    this.history.push(e.kind === 'packet' ? `$${e.text.slice(0, 80)}` : e.kind);
    if (this.history.length > 50) this.history.shift();
    this.events.push(e);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The next event, or throws after ms. */
  async next(ms = 5000): Promise<Event> {
    const end = Date.now() + ms;
    while (this.events.length === 0) {
      if (this.closed) throw new Error(`connection closed; history: ${this.history.join(' | ')}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no reply within ${ms} ms; history: ${this.history.join(' | ')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, Math.min(left, 100));
      });
    }
    return this.events.shift()!;
  }

  /** Nothing at all arrives for ms. */
  async silence(ms: number): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    if (this.events.length > 0) throw new Error(`expected silence, got ${JSON.stringify(this.events.map((e) => (e.kind === 'packet' ? e.text : e.kind)))}`);
  }

  write(bytes: string | Uint8Array): void {
    this.sock.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Send a framed packet (no waiting). */
  send(payload: string | Uint8Array): void {
    this.write(frame(payload));
  }

  /** Expect our packet's `+` (unless no-ack), then a reply packet, which we ack. Returns the reply payload. */
  async reply(ms = 5000): Promise<Event & { kind: 'packet' }> {
    const e = await this.next(ms);
    if (e.kind !== 'packet') throw new Error(`expected a packet, got ${e.kind}; history: ${this.history.join(' | ')}`);
    if (!this.noAck) this.write('+');
    return e;
  }

  async expectAck(ms = 5000): Promise<void> {
    if (this.noAck) return;
    const e = await this.next(ms);
    if (e.kind !== 'ack') throw new Error(`expected +, got ${e.kind === 'packet' ? '$' + e.text : e.kind}`);
  }

  /** Send a packet and return the reply's text (RLE expanded, escapes kept). */
  async request(payload: string | Uint8Array, ms = 5000): Promise<string> {
    this.send(payload);
    await this.expectAck(ms);
    return (await this.reply(ms)).text;
  }

  /** As request(), returning the payload bytes. */
  async requestBytes(payload: string | Uint8Array, ms = 5000): Promise<Buffer> {
    this.send(payload);
    await this.expectAck(ms);
    return (await this.reply(ms)).payload;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      if (this.closed) return r();
      this.sock.once('close', () => r());
      this.sock.end();
      setTimeout(() => {
        this.sock.destroy();
        r();
      }, 1000).unref();
    });
  }
}

// ------------------------------------------------------------------ helpers

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Buffer => Buffer.from(s, 'hex');
export const textOf = (h: string): string => Buffer.from(h, 'hex').toString('latin1');
export const u64hex = (v: bigint): string => BigInt.asUintN(64, v).toString(16);

/** Little-endian register bytes (hex) → bigint. */
export function leHex(h: string): bigint {
  return unhex(h).reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

export interface StopReply {
  signal: number;
  thread: string;
  regs: Map<number, string>;
  keys: Map<string, string>;
}

export function parseStop(text: string): StopReply {
  const m = /^T([0-9a-f]{2})(.*)$/.exec(text);
  if (!m) throw new Error(`not a T stop reply: ${text}`);
  const regs = new Map<number, string>();
  const keys = new Map<string, string>();
  for (const part of m[2]!.split(';')) {
    if (part === '') continue;
    const i = part.indexOf(':');
    const k = part.slice(0, i);
    const v = part.slice(i + 1);
    if (/^[0-9a-f]+$/.test(k)) regs.set(parseInt(k, 16), v);
    else keys.set(k, v);
  }
  return { signal: parseInt(m[1]!, 16), thread: keys.get('thread') ?? '', regs, keys };
}

export interface XmlReg {
  name: string;
  bits: number;
  regnum: number;
  feature: string;
}

/** Registers of a target.xml, in g order (regnum attributes honoured). */
export function parseTargetXml(xml: string): XmlReg[] {
  const regs: XmlReg[] = [];
  let next = 0;
  for (const f of xml.matchAll(/<feature name="([^"]+)">([\s\S]*?)<\/feature>/g)) {
    for (const r of f[2]!.matchAll(/<reg ([^>]*)\/>/g)) {
      const attr = (n: string): string | undefined => new RegExp(`${n}="([^"]*)"`).exec(r[1]!)?.[1];
      const regnum = attr('regnum') !== undefined ? Number(attr('regnum')) : next;
      next = regnum + 1;
      regs.push({ name: attr('name')!, bits: Number(attr('bitsize')), regnum, feature: f[1]! });
    }
  }
  return regs.sort((a, b) => a.regnum - b.regnum);
}
