// Z/z type,addr,kind. Types 0–4 map to BreakKind; any other type is unknown
// (empty reply = "not supported", which is what gdb expects), conditions and
// commands after ';' are not supported (never advertised) and rejected.
import { parseHexNumber, parseHexU64 } from '../hex.js';
import type { BreakKind } from '../target.js';
import { invalid } from './errors.js';
import type { ParseResult } from './types.js';

const KINDS: readonly BreakKind[] = ['sw', 'hw', 'write', 'read', 'access'];
const TWO_64 = 1n << 64n;

export function parseBreakpoint(s: string): ParseResult {
  const insert = s[0] === 'Z';
  const t = s.charCodeAt(1) - 0x30;
  if (!(t >= 0 && t <= 4) || (s.length > 2 && s[2] !== ',')) return { type: 'unknown' };
  const kind = KINDS[t]!;
  const fields = s.slice(3).split(',');
  if (fields.length !== 2) return invalid('expected type,addr,kind');
  const addr = parseHexU64(fields[0]!);
  if (addr === null) return invalid('bad address');
  const length = parseHexNumber(fields[1]!, 0, fields[1]!.length, 0xffff);
  if (length === null) return invalid('bad kind/length');
  if (addr + BigInt(length) > TWO_64) return invalid('range wraps past 2^64');
  return { type: 'breakpoint', insert, kind, addr, length };
}
