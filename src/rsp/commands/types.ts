// The typed result of parsing one packet. Parsers are pure: they see only the
// payload bytes and the packet-size limit, never the Target, so a malformed
// packet cannot have side effects (it becomes a ParseError → `E` reply).
import type { BreakKind, ResumeAction } from '../target.js';

/** A legacy resume packet (c, C, s, S) — the session maps it to actions using Hc. */
export interface LegacyResume {
  type: 'legacyResume';
  step: boolean;
  signal?: number;
  /** Optional resume address (`c addr`, `Csig;addr`). */
  addr?: bigint;
}

/** gdb's qSupported features: name → '+', '-', '?' or the value after '='. */
export type GdbFeatures = ReadonlyMap<string, string>;

export type Command =
  | { type: 'haltReason' } // ?
  | { type: 'readRegisters' } // g
  | { type: 'writeRegisters'; data: Uint8Array } // G
  | { type: 'readRegister'; regno: number } // p
  | { type: 'writeRegister'; regno: number; data: Uint8Array } // P
  | { type: 'readMemory'; addr: bigint; length: number } // m
  | { type: 'writeMemory'; addr: bigint; data: Uint8Array; binary: boolean } // M, X
  | LegacyResume
  | { type: 'vContQuery' } // vCont?
  | { type: 'vCont'; actions: ResumeAction[] } // vCont;...
  | { type: 'setThread'; op: 'g' | 'c'; thread: number } // Hg / Hc (0 = any, -1 = all)
  | { type: 'threadAlive'; thread: number } // T
  | { type: 'currentThread' } // qC
  | { type: 'threadInfoFirst' } // qfThreadInfo
  | { type: 'threadInfoNext' } // qsThreadInfo
  | { type: 'threadExtraInfo'; thread: number } // qThreadExtraInfo,id
  | { type: 'supported'; features: GdbFeatures } // qSupported[:...]
  | { type: 'xferFeatures'; annex: string; offset: number; length: number } // qXfer:features:read
  | { type: 'attached' } // qAttached
  | { type: 'symbol' } // qSymbol::
  | { type: 'monitor'; command: string } // qRcmd,hex
  | { type: 'startNoAck' } // QStartNoAckMode
  | { type: 'breakpoint'; insert: boolean; kind: BreakKind; addr: bigint; length: number } // Z/z
  | { type: 'detach' } // D
  | { type: 'kill' } // k
  | { type: 'mustReplyEmpty' } // vMustReplyEmpty
  | { type: 'traceStatus' } // qTStatus
  | { type: 'unknown' };

export type CommandType = Command['type'];

/** A packet we understood the family of but cannot accept; replied as `E` + errno. */
export interface ParseError {
  type: 'error';
  errno: number;
  /** Why, for the log; never sent on the wire. */
  reason: string;
}

export type ParseResult = Command | ParseError;

export interface ParseContext {
  /** Largest packet payload the peers exchange (our PacketSize); bounds `m`/qXfer replies. */
  maxPacket: number;
}
