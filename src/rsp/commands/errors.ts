// Shared constructors for parse errors. All syntax errors are EINVAL: the
// number is what gdb shows, the reason is only for our log.
import { EINVAL } from '../target.js';
import type { ParseError } from './types.js';

export function invalid(reason: string): ParseError {
  return { type: 'error', errno: EINVAL, reason };
}

export function isError(r: { type: string }): r is ParseError {
  return r.type === 'error';
}
