// The x86 side of kgdb's hardware breakpoints (Linux arch/x86/kernel/kgdb.c,
// kgdb_set_hw_break): what a Z1/Z2/Z3/Z4 request becomes in DR0-3/DR7, and
// DR7 decoded bit by bit for `monitor hwbp`. Pure functions, no state.
//
// DR7 (Intel SDM vol. 3, 17.2.4): slot n enables at bit 2n (L, local) and 2n+1
// (G, global); its 4-bit control field at bit 16+4n: RW (bits 0-1: 00 execute,
// 01 write, 10 I/O, 11 read/write) and LEN (bits 2-3: 00=1, 01=2, 11=4, 10=8
// bytes). Bit 8 LE, bit 9 GE, bit 10 reads as 1, bit 13 GD.

import type { BreakKind } from '../rsp/target.js';

export type HwType = 'exec' | 'write' | 'read' | 'access';

export const RW_BITS: Record<HwType, number> = {
  exec: 0,
  write: 1,
  // Z3: x86 has no read-only breakpoint. The simulator programs RW=11 and marks the slot
  // read-only in a host-only mask (Cpu.drReadOnly): a documented simulator extension.
  read: 3,
  access: 3,
};

/** LEN field encoding for a byte length. */
export const LEN_CODE: Readonly<Record<number, number>> = { 1: 0, 2: 1, 4: 3, 8: 2 };

export function typeOf(kind: BreakKind): HwType | undefined {
  switch (kind) {
    case 'hw':
      return 'exec';
    case 'write':
      return 'write';
    case 'read':
      return 'read';
    case 'access':
      return 'access';
    default:
      return undefined;
  }
}

/**
 * Validate a request as kgdb_set_hw_break does (plus the alignment check of
 * arch_build_bp_info): Z1's length is forced to 1 (any kind accepted, as Linux);
 * data breakpoints take 1, 2, 4 or 8 bytes at an address aligned to the length.
 * Returns the normalised length, or an error string.
 */
export function validate(type: HwType, addr: number, length: number): { len: number } | { error: string } {
  if (type === 'exec') return { len: 1 };
  if (!(length in LEN_CODE)) return { error: `length ${length} (must be 1, 2, 4 or 8)` };
  if (((addr % length) + length) % length !== 0) return { error: `address not aligned to ${length}` };
  return { len: length };
}

/** The DR7 bits that enable slot n for this type/length (G bit, as kgdb and perf set). */
export function slotBits(n: number, type: HwType, len: number): number {
  const ctrl = RW_BITS[type] | (LEN_CODE[len]! << 2);
  return ((ctrl << (16 + 4 * n)) | (2 << (2 * n))) >>> 0;
}

/** Every DR7 bit slot n may use (enables and control field). */
export function slotMask(n: number): number {
  return ((0xf << (16 + 4 * n)) | (3 << (2 * n))) >>> 0;
}

const RW_NAMES = ['exec', 'write', 'io', 'rw'];
const LEN_NAMES = [1, 2, 8, 4];

/** DR7 decoded bit by bit, one line per slot plus the global bits. */
export function decodeDr7(dr7: number, readOnly = 0): string[] {
  const v = dr7 >>> 0;
  const bit = (b: number): number => (v >>> b) & 1;
  const lines: string[] = [];
  for (let n = 0; n < 4; n++) {
    const rw = (v >>> (16 + 4 * n)) & 3;
    const len = (v >>> (18 + 4 * n)) & 3;
    const ro = rw === 3 && ((readOnly >>> n) & 1) !== 0 ? ' read-only(sim)' : '';
    lines.push(
      `    slot ${n}: L${n}(bit ${2 * n})=${bit(2 * n)} G${n}(bit ${2 * n + 1})=${bit(2 * n + 1)} ` +
        `RW${n}(bits ${16 + 4 * n}-${17 + 4 * n})=${rw.toString(2).padStart(2, '0')} ${RW_NAMES[rw]}${ro} ` +
        `LEN${n}(bits ${18 + 4 * n}-${19 + 4 * n})=${len.toString(2).padStart(2, '0')} ${LEN_NAMES[len]}`,
    );
  }
  lines.push(`    LE(bit 8)=${bit(8)} GE(bit 9)=${bit(9)} bit10=${bit(10)} GD(bit 13)=${bit(13)}`);
  return lines;
}

export function hex(n: number): string {
  return '0x' + BigInt.asUintN(64, BigInt(n)).toString(16);
}
