// g / G / p / P — register access. Register numbers and sizes are checked by the
// session against Target.registerSizes (target metadata); here only syntax.
import { decodeHexBytes, parseHexNumber } from '../hex.js';
import { invalid } from './errors.js';
import type { ParseResult } from './types.js';

/** Register numbers are small; anything longer is a malformed packet, not a big number. */
const MAX_REGNO = 0xffff;

export function parseReadRegisters(p: Buffer): ParseResult {
  return p.length === 1 ? { type: 'readRegisters' } : invalid('g takes no argument');
}

export function parseWriteRegisters(p: Buffer): ParseResult {
  const data = decodeHexBytes(p, 1, p.length);
  if (data === null || data.length === 0) return invalid('bad register data');
  return { type: 'writeRegisters', data };
}

export function parseReadRegister(p: Buffer): ParseResult {
  const regno = parseHexNumber(p.toString('latin1', 1), 0, p.length - 1, MAX_REGNO);
  return regno === null ? invalid('bad register number') : { type: 'readRegister', regno };
}

export function parseWriteRegister(p: Buffer): ParseResult {
  const eq = p.indexOf(0x3d, 1); // '='
  if (eq < 0) return invalid('missing "=value"');
  const regno = parseHexNumber(p.toString('latin1', 1, eq), 0, eq - 1, MAX_REGNO);
  if (regno === null) return invalid('bad register number');
  const data = decodeHexBytes(p, eq + 1, p.length);
  if (data === null || data.length === 0) return invalid('bad register value');
  return { type: 'writeRegister', regno, data };
}
