// q… and Q… general queries and sets. Unknown names are `unknown` (empty reply).
import { hexToText, parseHexNumber } from '../hex.js';
import { invalid } from './errors.js';
import { parseThreadExtraInfo } from './threads.js';
import type { ParseResult } from './types.js';

/** `qSupported[:f1;f2=v;f3+…]` → name → '+', '-', '?' or value. */
export function parseSupported(s: string): ParseResult {
  const features = new Map<string, string>();
  if (s.length > 'qSupported'.length) {
    if (s[10] !== ':') return { type: 'unknown' };
    for (const f of s.slice(11).split(';')) {
      if (f === '') continue;
      const eq = f.indexOf('=');
      if (eq >= 0) features.set(f.slice(0, eq), f.slice(eq + 1));
      else {
        const last = f[f.length - 1]!;
        if (last === '+' || last === '-' || last === '?') features.set(f.slice(0, -1), last);
        else features.set(f, '+');
      }
    }
  }
  return { type: 'supported', features };
}

/** `qXfer:features:read:annex:offset,length` (other objects are unknown). */
export function parseXfer(s: string): ParseResult {
  const prefix = 'qXfer:features:read:';
  if (!s.startsWith(prefix)) return { type: 'unknown' };
  const rest = s.slice(prefix.length);
  const colon = rest.indexOf(':');
  if (colon < 0) return invalid('missing offset,length');
  const annex = rest.slice(0, colon);
  const range = rest.slice(colon + 1);
  const comma = range.indexOf(',');
  if (comma < 0) return invalid('missing length');
  const offset = parseHexNumber(range, 0, comma, 0xffffffff);
  const length = parseHexNumber(range, comma + 1, range.length, 0xffffffff);
  if (offset === null || length === null) return invalid('bad offset/length');
  // gdb asks for about PacketSize bytes; a reply may be shorter, so the session caps it.
  return { type: 'xferFeatures', annex, offset, length };
}

export function parseQuery(s: string): ParseResult {
  if (s === 'qC') return { type: 'currentThread' };
  if (s === 'qfThreadInfo') return { type: 'threadInfoFirst' };
  if (s === 'qsThreadInfo') return { type: 'threadInfoNext' };
  if (s.startsWith('qThreadExtraInfo,')) return parseThreadExtraInfo(s);
  if (s.startsWith('qSupported')) return parseSupported(s);
  if (s.startsWith('qXfer:')) return parseXfer(s);
  if (s === 'qAttached' || s.startsWith('qAttached:')) return { type: 'attached' };
  if (s.startsWith('qSymbol:')) return { type: 'symbol' };
  if (s === 'qTStatus') return { type: 'traceStatus' };
  if (s.startsWith('qRcmd,')) {
    const command = hexToText(s.slice(6));
    return command === null ? invalid('bad hex in qRcmd') : { type: 'monitor', command };
  }
  return { type: 'unknown' };
}

export function parseSet(s: string): ParseResult {
  if (s === 'QStartNoAckMode') return { type: 'startNoAck' };
  return { type: 'unknown' };
}
