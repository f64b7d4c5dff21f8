// Byte-stream → RSP frames. A state machine that can be fed any chunking of the
// stream (a lone `+`, `+$g#67` together, one byte per read, many packets per
// read) and reports what it saw through a handler object (cheaper than an
// EventEmitter on the hot path).
//
// Memory is bounded: the only buffer is allocated once at `maxPacket` bytes;
// bytes between packets are inspected and dropped; a packet longer than
// `maxPacket` is counted but not stored, and reported once its `#cc` arrives.

/** What the framer reports. Payloads are the caller's to keep. */
export interface FrameHandler {
  /** `+` outside a packet. */
  ack(): void;
  /** `-` outside a packet: the peer wants our last packet again. */
  nack(): void;
  /** 0x03 outside a packet (Ctrl-C). */
  interrupt(): void;
  /** A packet with a good checksum; payload is after `}` unescaping, latin1 bytes. */
  packet(payload: Buffer): void;
  /** A complete packet whose checksum did not match (payload unescaped, for logs). */
  badChecksum(payload: Buffer): void;
  /**
   * A packet whose raw payload exceeded maxPacket; its bytes were discarded.
   * checksumOk tells whether the frame itself was intact (the sum is still computed).
   */
  oversize(rawLength: number, checksumOk: boolean): void;
}

const DOLLAR = 0x24;
const HASH = 0x23;
const ESCAPE = 0x7d;
const PLUS = 0x2b;
const MINUS = 0x2d;
const CTRL_C = 0x03;

const enum State {
  Idle,
  Data,
  Csum1,
  Csum2,
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Undo `}` escaping of src[start, end) into a fresh Buffer. A dangling `}` is kept literally. */
function unescape(src: Uint8Array, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let o = 0;
  for (let j = start; j < end; j++) {
    const c = src[j]!;
    if (c === ESCAPE && j + 1 < end) {
      out[o++] = src[++j]! ^ 0x20;
    } else {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}

export class Framer {
  /** Raw (still escaped) bytes of a packet that spans chunks. */
  private readonly buf: Buffer;
  private state = State.Idle;
  private len = 0; // raw payload bytes seen so far (may exceed buf.length)
  private sum = 0;
  private csumHi = 0;
  /** Bytes discarded between packets (also partial frames cut by a new `$`); for tests and logs. */
  junkBytes = 0;

  constructor(
    private readonly handler: FrameHandler,
    /** Largest raw payload (bytes between `$` and `#`) accepted. */
    readonly maxPacket: number,
  ) {
    if (!Number.isInteger(maxPacket) || maxPacket < 1) throw new RangeError(`bad maxPacket ${maxPacket}`);
    this.buf = Buffer.allocUnsafe(maxPacket);
  }

  /** True when a frame has started but not finished (used to tell "lost mid-packet"). */
  get inPacket(): boolean {
    return this.state !== State.Idle;
  }

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    const h = this.handler;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.Idle: {
          // Between packets only single bytes matter; anything else is junk and dropped.
          for (; i < n; i++) {
            const c = chunk[i]!;
            if (c === DOLLAR) break;
            if (c === PLUS) h.ack();
            else if (c === MINUS) h.nack();
            else if (c === CTRL_C) h.interrupt();
            else this.junkBytes++;
          }
          if (i >= n) return;
          i++; // past '$'
          // Fast path: the whole frame is in this chunk → no copy unless escaped.
          const hash = chunk.indexOf(HASH, i);
          if (hash >= 0 && hash + 2 < n && hash - i <= this.maxPacket) {
            let sum = 0;
            let escaped = false;
            let restart = -1;
            for (let j = i; j < hash; j++) {
              const c = chunk[j]!;
              if (c === DOLLAR) {
                restart = j;
                break;
              }
              if (c === ESCAPE) escaped = true;
              sum += c;
            }
            if (restart >= 0) {
              // A raw '$' cannot occur inside a packet: the earlier frame was cut; resync.
              this.junkBytes += restart - i + 1;
              i = restart;
              continue;
            }
            const hi = hexDigit(chunk[hash + 1]!);
            const lo = hexDigit(chunk[hash + 2]!);
            const ok = hi >= 0 && lo >= 0 && ((hi << 4) | lo) === (sum & 0xff);
            const payload = escaped
              ? unescape(chunk, i, hash)
              : Buffer.from(chunk.buffer, chunk.byteOffset + i, hash - i);
            i = hash + 3;
            if (ok) h.packet(payload);
            else h.badChecksum(payload);
            continue;
          }
          this.state = State.Data;
          this.len = 0;
          this.sum = 0;
          continue;
        }
        case State.Data: {
          const hash = chunk.indexOf(HASH, i);
          const stop = hash < 0 ? n : hash;
          const buf = this.buf;
          const max = this.maxPacket;
          let len = this.len;
          let sum = this.sum;
          let j = i;
          for (; j < stop; j++) {
            const c = chunk[j]!;
            if (c === DOLLAR) break;
            sum += c;
            if (len < max) buf[len] = c;
            len++;
          }
          this.len = len;
          this.sum = sum;
          if (j < stop) {
            // '$' inside a frame: drop the partial frame and start over at the '$'.
            this.junkBytes += len + 1;
            this.state = State.Idle;
            i = j;
            continue;
          }
          i = stop;
          if (hash >= 0) {
            this.state = State.Csum1;
            i++;
          }
          continue;
        }
        case State.Csum1:
          this.csumHi = hexDigit(chunk[i++]!);
          this.state = State.Csum2;
          continue;
        case State.Csum2: {
          const lo = hexDigit(chunk[i++]!);
          const hi = this.csumHi;
          const ok = hi >= 0 && lo >= 0 && ((hi << 4) | lo) === (this.sum & 0xff);
          this.state = State.Idle;
          if (this.len > this.maxPacket) {
            h.oversize(this.len, ok);
          } else {
            const payload = unescape(this.buf, 0, this.len);
            if (ok) h.packet(payload);
            else h.badChecksum(payload);
          }
          continue;
        }
      }
    }
  }
}
