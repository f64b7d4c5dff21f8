import { describe, expect, it } from 'vitest';
import { encodePacket, printable } from '../../src/rsp/writer.js';
import { bytesToHex, decodeHexBytes, parseHexNumber, parseHexU64, textToHex } from '../../src/rsp/hex.js';
import { decodeStream, rng, unescapeBinary } from './helpers.js';

const enc = (s: string | Uint8Array, rle = true, binary = false): string =>
  encodePacket(s, { rle, binary }).toString('latin1');

/** Check the properties the brief demands of every RLE'd packet. */
function checkRleRules(wire: string): void {
  const body = wire.slice(1, wire.lastIndexOf('#'));
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '*') {
      const count = body.charCodeAt(i + 1);
      expect(count).not.toBe(0x23);
      expect(count).not.toBe(0x24);
      expect(count).toBeGreaterThanOrEqual(32);
      expect(count).toBeLessThanOrEqual(126);
      // never a run starting on an escaped byte: the char before '*' is not preceded by '}'
      expect(body[i - 2]).not.toBe('}');
      i++; // the count char itself may be any printable, even '*'
    }
  }
}

describe('writer', () => {
  it('frames with a lower-case checksum', () => {
    expect(enc('OK')).toBe('$OK#9a');
    expect(enc('')).toBe('$#00');
    expect(enc('E16', false)).toBe('$E16#ac');
  });

  it('run-length encodes only runs of 4 or more', () => {
    expect(enc('000')).toBe('$000#90');
    const four = enc('0000');
    expect(four.startsWith('$0* #')).toBe(true);
    expect(decodeStream(four).packets[0]!.toString()).toBe('0000');
  });

  it('splits runs of 7 and 8 so the count is never # or $', () => {
    for (let n = 1; n <= 300; n++) {
      const s = 'a'.repeat(n);
      const w = enc(s);
      checkRleRules(w);
      expect(decodeStream(w).packets[0]!.toString()).toBe(s);
      expect(w.length - 4).toBeLessThanOrEqual(n);
    }
    expect(enc('0'.repeat(7))).toBe('$0*"0#' + ((0x30 + 0x2a + 0x22 + 0x30) & 0xff).toString(16));
    expect(enc('0'.repeat(8)).slice(0, 6)).toBe('$0*"00');
  });

  it('never applies RLE when disabled (kgdb)', () => {
    expect(enc('0'.repeat(20), false)).toBe('$' + '0'.repeat(20) + '#c0');
  });

  it('escapes #$}* in binary payloads and round-trips random data', () => {
    const r = rng(7);
    for (let t = 0; t < 300; t++) {
      const len = Math.floor(r() * 400);
      const b = new Uint8Array(len);
      let v = 0;
      for (let i = 0; i < len; i++) {
        if (r() < 0.3) v = [0x23, 0x24, 0x7d, 0x2a, 0, 0x41][Math.floor(r() * 6)]!;
        b[i] = v; // long runs, including runs of bytes that need escaping
      }
      for (const rle of [true, false]) {
        const w = enc(b, rle, true);
        const body = w.slice(1, w.lastIndexOf('#'));
        expect(body).not.toMatch(/[#$]/);
        checkRleRules(w);
        const decoded = unescapeBinary(decodeStream(w).packets[0]!);
        expect(Buffer.compare(decoded, Buffer.from(b))).toBe(0);
      }
    }
  });

  it('hex helpers', () => {
    expect(bytesToHex(new Uint8Array([0, 0xab, 0x10]))).toBe('00ab10');
    expect(bytesToHex(new Uint8Array([1, 2, 3, 4]).subarray(1, 3))).toBe('0203');
    expect(textToHex('hi\n')).toBe('68690a');
    expect(decodeHexBytes(Buffer.from('00fFa0'), 0, 6)).toEqual(new Uint8Array([0, 0xff, 0xa0]));
    expect(decodeHexBytes(Buffer.from('0g'), 0, 2)).toBeNull();
    expect(decodeHexBytes(Buffer.from('abc'), 0, 3)).toBeNull();
    expect(parseHexU64('ffffffffffffffff')).toBe(0xffffffffffffffffn);
    expect(parseHexU64('0000ffffffffffffffff')).toBe(0xffffffffffffffffn);
    expect(parseHexU64('10000000000000000')).toBeNull();
    expect(parseHexU64('-1')).toBeNull();
    expect(parseHexU64('')).toBeNull();
    expect(parseHexNumber('ff', 0, 2, 0xfe)).toBeNull();
    expect(printable(Buffer.from([0x41, 0, 0x5c]))).toBe('A\\x00\\x5c');
  });
});
