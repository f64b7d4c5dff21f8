// Packet → typed command. One switch on the first byte hands the payload to the
// parser of its family. Never throws: any unexpected failure is a ParseError.
import { parseBreakpoint } from './breakpoints.js';
import { invalid } from './errors.js';
import { parseReadMemory, parseWriteMemory } from './memory.js';
import { parseQuery, parseSet } from './query.js';
import { parseReadRegister, parseReadRegisters, parseWriteRegister, parseWriteRegisters } from './registers.js';
import { parseDetach, parseLegacyResume, parseVCont } from './run.js';
import { parseSetThread, parseThreadAlive } from './threads.js';
import type { ParseContext, ParseResult } from './types.js';

export type * from './types.js';
export { isError } from './errors.js';

function parseV(s: string): ParseResult {
  if (s === 'vCont?') return { type: 'vContQuery' };
  if (s.startsWith('vCont;') || s === 'vCont') return parseVCont(s);
  if (s === 'vMustReplyEmpty') return { type: 'mustReplyEmpty' };
  return { type: 'unknown' };
}

export function parseCommand(p: Buffer, ctx: ParseContext): ParseResult {
  try {
    if (p.length === 0) return { type: 'unknown' };
    switch (p[0]) {
      case 0x3f: // ?
        return p.length === 1 ? { type: 'haltReason' } : invalid('? takes no argument');
      case 0x67: // g
        return parseReadRegisters(p);
      case 0x47: // G
        return parseWriteRegisters(p);
      case 0x70: // p
        return parseReadRegister(p);
      case 0x50: // P
        return parseWriteRegister(p);
      case 0x6d: // m
        return parseReadMemory(p, ctx);
      case 0x4d: // M
      case 0x58: // X
        return parseWriteMemory(p, ctx);
      case 0x63: // c
      case 0x43: // C
      case 0x73: // s
      case 0x53: // S
        return parseLegacyResume(p.toString('latin1'));
      case 0x76: // v
        return parseV(p.toString('latin1'));
      case 0x48: // H
        return parseSetThread(p.toString('latin1'));
      case 0x54: // T
        return parseThreadAlive(p.toString('latin1'));
      case 0x71: // q
        return parseQuery(p.toString('latin1'));
      case 0x51: // Q
        return parseSet(p.toString('latin1'));
      case 0x5a: // Z
      case 0x7a: // z
        return parseBreakpoint(p.toString('latin1'));
      case 0x44: // D
        return parseDetach(p.toString('latin1'));
      case 0x6b: // k
        return p.length === 1 ? { type: 'kill' } : invalid('k takes no argument');
      default:
        return { type: 'unknown' };
    }
  } catch (e) {
    // Defensive: a parser bug must become an E reply, not a dead session.
    return invalid(`parser failure: ${String(e)}`);
  }
}
