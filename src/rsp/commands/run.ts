// Run control: ?, c/C/s/S (legacy, optional resume address), vCont?, vCont;…, D, k.
// vCont actions keep gdb's order: the session/target apply the leftmost match.
import { parseHexNumber, parseHexU64 } from '../hex.js';
import type { ResumeAction } from '../target.js';
import { invalid } from './errors.js';
import { parseThreadId } from './threads.js';
import type { ParseResult } from './types.js';

function parseSignal(s: string): number | null {
  // Signals are two hex digits on the wire; accept 1–2 digits, reject the rest.
  return s.length >= 1 && s.length <= 2 ? parseHexNumber(s, 0, s.length, 0xff) : null;
}

/** `c[addr]`, `s[addr]`, `Csig[;addr]`, `Ssig[;addr]`. */
export function parseLegacyResume(s: string): ParseResult {
  const step = s[0] === 's' || s[0] === 'S';
  const withSignal = s[0] === 'C' || s[0] === 'S';
  let rest = s.slice(1);
  let signal: number | undefined;
  if (withSignal) {
    const semi = rest.indexOf(';');
    const sigText = semi < 0 ? rest : rest.slice(0, semi);
    const sig = parseSignal(sigText);
    if (sig === null) return invalid('bad signal');
    signal = sig;
    if (semi < 0) rest = '';
    else {
      rest = rest.slice(semi + 1);
      if (rest === '') return invalid('empty resume address');
    }
  }
  if (rest === '') return signal === undefined ? { type: 'legacyResume', step } : { type: 'legacyResume', step, signal };
  const addr = parseHexU64(rest);
  if (addr === null) return invalid('bad resume address');
  return signal === undefined ? { type: 'legacyResume', step, addr } : { type: 'legacyResume', step, signal, addr };
}

/** `vCont;action[:tid];…` with actions c, Csig, s, Ssig. */
export function parseVCont(s: string): ParseResult {
  if (!s.startsWith('vCont;')) return invalid('vCont without actions');
  const parts = s.slice(6).split(';');
  const actions: ResumeAction[] = [];
  let sawDefault = false;
  for (const part of parts) {
    if (part === '') return invalid('empty vCont action');
    const colon = part.indexOf(':');
    const act = colon < 0 ? part : part.slice(0, colon);
    let thread = -1;
    if (colon >= 0) {
      const t = parseThreadId(part.slice(colon + 1), true);
      if (t === null || t === 0) return invalid('bad vCont thread id');
      thread = t;
    }
    if (thread === -1) {
      // Two actions for "all" would be ambiguous under the leftmost rule's intent.
      if (sawDefault) return invalid('two default vCont actions');
      sawDefault = true;
    }
    const kind = act[0];
    if (kind === 'c' || kind === 's') {
      if (act.length !== 1) return invalid(`bad vCont action ${act}`);
      actions.push({ kind: kind === 'c' ? 'continue' : 'step', thread });
    } else if (kind === 'C' || kind === 'S') {
      const sig = parseSignal(act.slice(1));
      if (sig === null) return invalid('bad vCont signal');
      actions.push({ kind: kind === 'C' ? 'continue' : 'step', signal: sig, thread });
    } else {
      return invalid(`unsupported vCont action ${act}`);
    }
  }
  return { type: 'vCont', actions };
}

/** `D` or `D;pid` (the pid is ignored: one inferior). */
export function parseDetach(s: string): ParseResult {
  if (s === 'D') return { type: 'detach' };
  if (s.startsWith('D;') && parseHexNumber(s, 2) !== null) return { type: 'detach' };
  return invalid('bad D packet');
}
