// The debug core's view of hardware breakpoints (Z1-Z4). The implementation
// lives in src/hwbreak (x86 debug registers, lockless slot reservation).

import type { BreakKind, Errno, StopEvent } from '../rsp/target.js';

export interface HwBreakpoints {
  supports(kind: BreakKind): boolean;
  insert(kind: BreakKind, addr: number, length: number): Errno | undefined;
  remove(kind: BreakKind, addr: number, length: number): Errno | undefined;
  removeAll(): void;
  /** The stop reason for DR6 trap bits that belong to the debugger (slots are per CPU: pass it). */
  stopReason(dr6: number, cpu?: number): StopEvent['reason'] | undefined;
  describe(): string;
}
