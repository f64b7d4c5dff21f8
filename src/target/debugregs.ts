// x86 debug-register semantics (Intel SDM vol. 3, 17.2): DR7 decoding and the
// matching of execute breakpoints (checked before an instruction) and data
// breakpoints (checked on each access, reported after the instruction).

export const DR7_BIT10 = 0x400;
export const DR6_FIXED = 0xffff0ff0;
export const DR6_BS = 1 << 14;

/** RW field values. */
export const RW_EXEC = 0, RW_WRITE = 1, RW_IO = 2, RW_RW = 3;

/** LEN field → byte length (00=1, 01=2, 11=4, 10=8). */
export const LEN_BYTES = [1, 2, 8, 4] as const;

export function dr7Enabled(dr7: number, n: number): boolean {
  return ((dr7 >>> (2 * n)) & 3) !== 0;
}
export function dr7Rw(dr7: number, n: number): number {
  return (dr7 >>> (16 + 4 * n)) & 3;
}
export function dr7Len(dr7: number, n: number): number {
  return LEN_BYTES[(dr7 >>> (18 + 4 * n)) & 3];
}

/** Per-CPU digest of DR0-3/DR7 for the run loop. */
export class DebugRegDigest {
  /** Addresses of enabled execute breakpoints, by slot (NaN when unused). */
  readonly exec = [NaN, NaN, NaN, NaN];
  /** Enabled data breakpoints: slot, aligned address, length, whether reads match. */
  readonly data: Array<{ slot: number; addr: number; len: number; reads: boolean; writes: boolean }> = [];
  anyExec = false;

  /**
   * `readOnly`: simulator extension (issue 4, gdb's Z3): slots whose bit is set here and whose
   * RW is 11 match reads only. Real x86 has no read-only breakpoint; only the host debugger
   * sets this mask (Cpu.drReadOnly), never guest code.
   */
  update(dr: readonly number[], dr7: number, readOnly = 0): void {
    this.data.length = 0;
    this.anyExec = false;
    for (let n = 0; n < 4; n++) {
      this.exec[n] = NaN;
      if (!dr7Enabled(dr7, n)) continue;
      const rw = dr7Rw(dr7, n);
      if (rw === RW_EXEC) {
        this.exec[n] = dr[n];
        this.anyExec = true;
      } else if (rw === RW_WRITE || rw === RW_RW) {
        const len = dr7Len(dr7, n);
        // The CPU ignores the low address bits below the length (breakpoints are aligned).
        const addr = dr[n] - (((dr[n] % len) + len) % len);
        const ro = rw === RW_RW && ((readOnly >>> n) & 1) !== 0;
        this.data.push({ slot: n, addr, len, reads: rw === RW_RW, writes: !ro });
      }
    }
  }

  /** DR6 trap bits for an access [addr, addr+size) of the given kind. */
  matchData(addr: number, size: number, write: boolean): number {
    let bits = 0;
    for (const d of this.data) {
      if (write ? !d.writes : !d.reads) continue;
      if (addr < d.addr + d.len && d.addr < addr + size) bits |= 1 << d.slot;
    }
    return bits;
  }

  matchExec(rip: number): number {
    let bits = 0;
    for (let n = 0; n < 4; n++) if (this.exec[n] === rip) bits |= 1 << n;
    return bits;
  }
}
