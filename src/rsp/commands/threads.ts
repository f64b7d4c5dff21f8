// H / T / qC / qfThreadInfo / qsThreadInfo / qThreadExtraInfo — thread ids are
// plain hex (no multiprocess `p` form: we never advertise multiprocess+), with
// `-1` meaning "all threads" where the packet allows it and `0` "any thread".
import { parseHexNumber } from '../hex.js';
import { invalid } from './errors.js';
import type { ParseError, ParseResult } from './types.js';

/**
 * Parse a thread id; `allowAll` admits -1 ("all threads"). Returns null on bad syntax.
 *
 * gdb keeps the id it was given (e.g. `fffffffe`, a kgdb shadow thread) but
 * writes it back through an `int`: ids ≥ 2^31 come back as `-<hex>` (`-2`).
 * Such values are mapped back to the unsigned 32-bit id the stub sent, which is
 * also how Linux kgdb reads them (kgdb_hex2long accepts a leading '-').
 */
export function parseThreadId(s: string, allowAll: boolean): number | null {
  if (s === '-1') return allowAll ? -1 : null;
  if (s.startsWith('p')) return null; // multiprocess ids: not negotiated, so not accepted
  if (s.startsWith('-')) {
    const magnitude = parseHexNumber(s, 1, s.length, 0x80000000);
    return magnitude === null || magnitude < 2 ? null : (-magnitude >>> 0);
  }
  return parseHexNumber(s);
}

/** `Hg<id>` / `Hc<id>`. */
export function parseSetThread(s: string): ParseResult {
  const op = s[1];
  if (op !== 'g' && op !== 'c') return invalid(`H${op ?? ''} is not supported`);
  const thread = parseThreadId(s.slice(2), true);
  return thread === null ? invalid('bad thread id') : { type: 'setThread', op, thread };
}

/** `T<id>` — is the thread alive. */
export function parseThreadAlive(s: string): ParseResult {
  const thread = parseThreadId(s.slice(1), false);
  return thread === null ? invalid('bad thread id') : { type: 'threadAlive', thread };
}

/** `qThreadExtraInfo,<id>`. */
export function parseThreadExtraInfo(s: string): ParseResult | ParseError {
  const thread = parseThreadId(s.slice('qThreadExtraInfo,'.length), false);
  return thread === null ? invalid('bad thread id') : { type: 'threadExtraInfo', thread };
}
