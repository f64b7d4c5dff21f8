// m / M / X — memory access. Ranges are checked here so the Target only ever
// sees a well-formed, non-wrapping range: addresses are unsigned 64-bit, a
// range whose end passes 2^64 is rejected (never clamped), and a zero length is
// accepted as a defined no-op (the session answers it without the Target).
import { decodeHexBytes, parseHexNumber, parseHexU64 } from '../hex.js';
import { invalid } from './errors.js';
import type { ParseContext, ParseError, ParseResult } from './types.js';

const TWO_64 = 1n << 64n;
const COLON = 0x3a;

/** Parse "addr,len" (both hex) and reject ranges that wrap past 2^64. */
export function parseRange(s: string): { addr: bigint; length: number } | ParseError {
  const comma = s.indexOf(',');
  if (comma < 0) return invalid('missing ",length"');
  const addr = parseHexU64(s, 0, comma);
  if (addr === null) return invalid('bad address');
  const length = parseHexNumber(s, comma + 1, s.length);
  if (length === null) return invalid('bad length');
  if (addr + BigInt(length) > TWO_64) return invalid('range wraps past 2^64');
  return { addr, length };
}

/** `m addr,length` — the hex reply (2 chars per byte) must fit in one packet. */
export function parseReadMemory(p: Buffer, ctx: ParseContext): ParseResult {
  const r = parseRange(p.toString('latin1', 1));
  if ('type' in r) return r;
  if (r.length * 2 > ctx.maxPacket) return invalid('length beyond packet size');
  return { type: 'readMemory', addr: r.addr, length: r.length };
}

/** `M addr,length:hex` and `X addr,length:binary` — the data must be exactly `length` bytes. */
export function parseWriteMemory(p: Buffer, ctx: ParseContext): ParseResult {
  const binary = p[0] === 0x58; // 'X'
  const colon = p.indexOf(COLON, 1);
  if (colon < 0) return invalid('missing ":data"');
  const r = parseRange(p.toString('latin1', 1, colon));
  if ('type' in r) return r;
  if (r.length > ctx.maxPacket) return invalid('length beyond packet size');
  let data: Uint8Array | null;
  if (binary) {
    data = p.subarray(colon + 1);
  } else {
    data = decodeHexBytes(p, colon + 1, p.length);
    if (data === null) return invalid('bad hex data');
  }
  if (data.length !== r.length) return invalid(`data is ${data.length} bytes, length says ${r.length}`);
  return { type: 'writeMemory', addr: r.addr, data, binary };
}
