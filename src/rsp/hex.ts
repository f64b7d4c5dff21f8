// Hex helpers shared by the parsers (decode, validating) and the writer (encode).
// Packets arrive as latin1 bytes; decoding works on the bytes directly so that a
// 128 KiB `M` packet is not first turned into a JS string.

/** Value of each ASCII byte as a hex digit, or -1. A table beats branches in the hot loops. */
export const HEX_VALUE: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[0x41 + i] = 10 + i;
    t[0x61 + i] = 10 + i;
  }
  return t;
})();

const LOWER_HEX = '0123456789abcdef';

/** Lowercase hex of bytes (Node's native encoder; the fastest option available). */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Hex of an ASCII/latin1 string (qRcmd output, qThreadExtraInfo). */
export function textToHex(text: string): string {
  return Buffer.from(text, 'latin1').toString('hex');
}

/** One byte as exactly two lowercase hex digits (signals, error numbers). */
export function hex2(n: number): string {
  return LOWER_HEX[(n >>> 4) & 0xf] + LOWER_HEX[n & 0xf];
}

/**
 * Decode hex digits in buf[start, end) into a new byte array; `null` when the
 * count is odd or any digit is invalid. Node's Buffer.from(s, 'hex') silently
 * stops at the first bad digit, which would turn bad input into a short write.
 */
export function decodeHexBytes(buf: Uint8Array, start: number, end: number): Uint8Array | null {
  const n = end - start;
  if (n < 0 || (n & 1) !== 0) return null;
  const out = new Uint8Array(n >>> 1);
  for (let i = start, o = 0; i < end; i += 2, o++) {
    const hi = HEX_VALUE[buf[i]!]!;
    const lo = HEX_VALUE[buf[i + 1]!]!;
    if ((hi | lo) < 0) return null;
    out[o] = (hi << 4) | lo;
  }
  return out;
}

/** Decode a hex string (qRcmd argument) to latin1 text, or null when malformed. */
export function hexToText(hex: string): string | null {
  const bytes = decodeHexBytes(Buffer.from(hex, 'latin1'), 0, hex.length);
  return bytes === null ? null : Buffer.from(bytes).toString('latin1');
}

const TWO_64 = 1n << 64n;

/**
 * Parse an unsigned hex number of at most 64 bits from s[start, end).
 * Leading zeros are allowed (gdb pads addresses); empty input, a sign, any
 * non-hex digit, or a value ≥ 2^64 gives null — never a silently truncated value.
 */
export function parseHexU64(s: string, start = 0, end = s.length): bigint | null {
  if (end <= start) return null;
  let i = start;
  while (i < end - 1 && s.charCodeAt(i) === 0x30) i++; // skip leading zeros
  if (end - i > 16) return null;
  for (let j = i; j < end; j++) if (HEX_VALUE[s.charCodeAt(j) & 0xff]! < 0 || s.charCodeAt(j) > 0xff) return null;
  const v = BigInt('0x' + s.slice(i, end));
  return v < TWO_64 ? v : null;
}

/**
 * Parse an unsigned hex number that must fit in `max` (≤ 2^53) — lengths,
 * register numbers, thread ids. null on empty, bad digit or overflow.
 */
export function parseHexNumber(s: string, start = 0, end = s.length, max = Number.MAX_SAFE_INTEGER): number | null {
  if (end <= start) return null;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    const d = c > 0xff ? -1 : HEX_VALUE[c]!;
    if (d < 0) return null;
    v = v * 16 + d;
    if (v > max) return null;
  }
  return v;
}
