// Reply encoding: `$` + payload + `#` + two hex digits of the modulo-256 sum.
// The writer owns the three transformations gdb expects in replies:
//  - `}` escaping (byte xor 0x20) of `#`, `$`, `}` and `*` in binary payloads
//    (qXfer data), so framing and run-length markers can't be forged by data;
//  - run-length encoding `c*N`, N = repeats + 29 — only where it shortens the
//    packet (a run of ≥ 4), never with `#` (6 repeats) or `$` (7 repeats) as the
//    count (those runs are cut to 5 repeats and the rest sent separately), and
//    never starting on an escaped byte (gdb expands runs before unescaping);
//  - the checksum over the bytes actually sent.
export { bytesToHex, textToHex, hex2 } from './hex.js';

export interface EncodeOptions {
  /** Apply run-length encoding (modern profile); Linux kgdb never does. */
  rle: boolean;
  /** Payload is binary data that must be escaped (qXfer replies). */
  binary?: boolean;
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Longest run one `c*N` can express: N ≤ 126 (printable) → 97 repeats + the char. */
const MAX_RUN = 98;

function needsEscape(c: number): boolean {
  return c === 0x23 || c === 0x24 || c === 0x7d || c === 0x2a;
}

/** Sum of bytes mod 256, the RSP checksum. */
export function checksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += bytes[i]!;
  return sum & 0xff;
}

/**
 * Encode one reply packet into a single Buffer ready for the transport.
 * `payload` may be a latin1 string (most replies) or bytes.
 */
export function encodePacket(payload: string | Uint8Array, opts: EncodeOptions): Buffer {
  const src = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const n = src.length;
  const binary = opts.binary === true;
  const out = Buffer.allocUnsafe((binary ? 2 * n : n) + 4);
  out[0] = 0x24;
  let o = 1;
  if (!binary && !opts.rle) {
    // Plain text: a straight copy, the common case for short replies.
    out.set(src, 1);
    o = 1 + n;
  } else {
    const rle = opts.rle;
    let i = 0;
    while (i < n) {
      const c = src[i]!;
      if (binary && needsEscape(c)) {
        out[o++] = 0x7d;
        out[o++] = c ^ 0x20;
        i++;
        continue;
      }
      if (rle && i + 3 < n && src[i + 1] === c && src[i + 2] === c && src[i + 3] === c) {
        let j = i + 4;
        while (j < n && j - i < MAX_RUN && src[j] === c) j++;
        let repeats = j - i - 1;
        // 6 and 7 repeats would give '#' and '$' as the count character.
        if (repeats === 6 || repeats === 7) repeats = 5;
        out[o++] = c;
        out[o++] = 0x2a;
        out[o++] = repeats + 29;
        i += repeats + 1;
        continue;
      }
      out[o++] = c;
      i++;
    }
  }
  const sum = checksum(out, 1, o);
  out[o++] = 0x23;
  out[o++] = HEX_DIGITS[sum >>> 4]!;
  out[o++] = HEX_DIGITS[sum & 0xf]!;
  return out.subarray(0, o);
}

/**
 * Render bytes for a human (the --trace log): printable ASCII as is, the rest as
 * \xNN, so binary X/qXfer payloads and stray control bytes stay readable.
 */
export function printable(bytes: Uint8Array, limit = 4096): string {
  let s = '';
  const n = Math.min(bytes.length, limit);
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c >= 0x20 && c < 0x7f && c !== 0x5c) s += String.fromCharCode(c);
    else s += '\\x' + (c < 16 ? '0' : '') + c.toString(16);
  }
  if (bytes.length > limit) s += `...(${bytes.length} bytes)`;
  return s;
}
