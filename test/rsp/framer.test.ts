import { describe, expect, it } from 'vitest';
import { Framer, type FrameHandler } from '../../src/rsp/framer.js';
import { frame, rng } from './helpers.js';

type Ev = string;

function collector(): { h: FrameHandler; events: Ev[] } {
  const events: Ev[] = [];
  const h: FrameHandler = {
    ack: () => events.push('+'),
    nack: () => events.push('-'),
    interrupt: () => events.push('^C'),
    packet: (p) => events.push('P:' + p.toString('hex')),
    badChecksum: (p) => events.push('BAD:' + p.toString('hex')),
    oversize: (n, ok) => events.push(`BIG:${n}:${ok}`),
  };
  return { h, events };
}

function run(stream: Buffer, chunks: number[] | 'bytes' | 'whole', max = 4096): { events: Ev[]; framer: Framer } {
  const { h, events } = collector();
  const f = new Framer(h, max);
  if (chunks === 'whole') f.push(stream);
  else if (chunks === 'bytes') for (let i = 0; i < stream.length; i++) f.push(stream.subarray(i, i + 1));
  else {
    let i = 0;
    for (const n of chunks) {
      f.push(stream.subarray(i, i + n));
      i += n;
    }
    f.push(stream.subarray(i));
  }
  return { events, framer: f };
}

const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

describe('framer', () => {
  it('parses a lone ack, ack+packet together, and interrupts', () => {
    const { events } = run(Buffer.from('+' + '+$g#67' + '\x03' + '-', 'latin1'), 'whole');
    expect(events).toEqual(['+', '+', 'P:' + hex('g'), '^C', '-']);
  });

  it('accepts upper-case checksum digits and reports bad checksums', () => {
    const { events } = run(Buffer.from('$OK#9A$OK#9b$OK#zz', 'latin1'), 'whole');
    expect(events).toEqual(['P:' + hex('OK'), 'BAD:' + hex('OK'), 'BAD:' + hex('OK')]);
  });

  it('unescapes } sequences and keeps binary bytes (incl. 0x03 inside a packet)', () => {
    const data = Buffer.from([0x00, 0x03, 0x23, 0x24, 0x7d, 0x2a, 0xff, 0x2b, 0x2d]);
    const payload = Buffer.concat([Buffer.from('X1000,9:', 'latin1'), data]);
    for (const mode of ['whole', 'bytes'] as const) {
      const { events } = run(frame(payload, true), mode);
      expect(events).toEqual(['P:' + payload.toString('hex')]);
    }
  });

  it('gives identical events for every chunking of a mixed stream', () => {
    const r = rng(42);
    const parts: Buffer[] = [];
    for (let k = 0; k < 200; k++) {
      const x = r();
      if (x < 0.15) parts.push(Buffer.from('+'));
      else if (x < 0.2) parts.push(Buffer.from('-'));
      else if (x < 0.25) parts.push(Buffer.from([3]));
      else if (x < 0.3) parts.push(Buffer.from('junk\n\x00\xff', 'latin1'));
      else if (x < 0.35) parts.push(Buffer.from('$m10,4#00', 'latin1')); // bad checksum
      else {
        const len = Math.floor(r() * 300);
        const b = Buffer.alloc(len);
        for (let i = 0; i < len; i++) b[i] = Math.floor(r() * 256);
        parts.push(frame(b, true));
      }
    }
    const stream = Buffer.concat(parts);
    const reference = run(stream, 'whole').events;
    expect(reference.length).toBeGreaterThan(150);
    expect(run(stream, 'bytes').events).toEqual(reference);
    for (let trial = 0; trial < 30; trial++) {
      const sizes: number[] = [];
      let total = 0;
      while (total < stream.length) {
        const n = 1 + Math.floor(r() * (trial % 3 === 0 ? 7 : 700));
        sizes.push(n);
        total += n;
      }
      expect(run(stream, sizes).events).toEqual(reference);
    }
  });

  it('accepts a packet of exactly maxPacket bytes and drops a longer one, reporting it', () => {
    const max = 64;
    const ok = 'm'.repeat(max);
    const big = 'M'.repeat(max + 1);
    for (const mode of ['whole', 'bytes'] as const) {
      const { events } = run(Buffer.concat([frame(ok), frame(big), Buffer.from('$bad'.repeat(0), 'latin1'), frame('g')]), mode, max);
      expect(events).toEqual(['P:' + hex(ok), `BIG:${max + 1}:true`, 'P:' + hex('g')]);
    }
    const bad = Buffer.from(`$${'M'.repeat(100)}#00`, 'latin1');
    expect(run(bad, 'whole', max).events).toEqual(['BIG:100:false']);
  });

  it('stays bounded under a flood of junk and of never-ending packets', () => {
    const { h, events } = collector();
    const f = new Framer(h, 1024);
    const junk = Buffer.alloc(1 << 20, 'a');
    for (let i = 0; i < 16; i++) f.push(junk); // 16 MiB of junk between packets
    expect(events).toEqual([]);
    expect(f.junkBytes).toBe(16 << 20);
    f.push(Buffer.from('$'));
    for (let i = 0; i < 16; i++) f.push(junk); // a 16 MiB "packet"
    expect(events).toEqual([]);
    f.push(Buffer.from('#01$g#67', 'latin1')); // sum of 16 Mi 'a' is 0, so 01 is wrong
    expect(events).toEqual([`BIG:${16 << 20}:false`, 'P:' + hex('g')]);
    // The only storage is the buffer allocated up front.
    expect((f as unknown as { buf: Buffer }).buf.length).toBe(1024);
  });

  it('resynchronises on a "$" inside a frame (a cut packet)', () => {
    for (const mode of ['whole', 'bytes'] as const) {
      const { events, framer } = run(Buffer.from('$m10,4$g#67', 'latin1'), mode);
      expect(events).toEqual(['P:' + hex('g')]);
      expect(framer.junkBytes).toBe(6);
    }
  });

  it('keeps a dangling escape literally', () => {
    const raw = Buffer.from('$ab}#' + ((0x61 + 0x62 + 0x7d) & 0xff).toString(16), 'latin1');
    expect(run(raw, 'whole').events).toEqual(['P:' + hex('ab}')]);
  });

  it('emits payloads that stay valid after later input', () => {
    const got: Buffer[] = [];
    const f = new Framer(
      { ack() {}, nack() {}, interrupt() {}, badChecksum() {}, oversize() {}, packet: (p) => got.push(p) },
      64,
    );
    const a = frame('Mfirst');
    for (const c of a) f.push(Buffer.from([c]));
    const b = frame('Xsecond');
    for (const c of b) f.push(Buffer.from([c]));
    expect(got.map((g) => g.toString())).toEqual(['Mfirst', 'Xsecond']);
  });
});
