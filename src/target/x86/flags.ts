// RFLAGS with lazily computed arithmetic flags.
//
//  - `sys` holds every non-arithmetic bit (bit 1 always set, TF 0x100, IF 0x200, DF 0x400, RF 0x10000, ...)
//    as a plain number, so the interrupt check in the run loop is one AND.
//  - the arithmetic bits (CF PF AF ZF SF OF, mask 0x8d5) are not stored: the last flag-setting
//    operation records its kind, size, operands and result (int32 halves), and each flag is derived
//    only when something reads it (read(), test(cc), carry() for adc/sbb, pushfq, the debugger).
//
// Operand convention for the recorders (the semantics in exec/ guarantee it):
//  size 1/2: a, b, r are the operand-size values zero-extended (0..0xff / 0..0xffff);
//  size 4:   a, b, r are int32;
//  size 8:   (a0,a1), (b0,b1), (r0,r1) are int32 low/high halves.
export const FL_CF = 0x1, FL_PF = 0x4, FL_AF = 0x10, FL_ZF = 0x40, FL_SF = 0x80, FL_TF = 0x100,
  FL_IF = 0x200, FL_DF = 0x400, FL_OF = 0x800, FL_RF = 0x10000;
export const FL_ARITH = FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF;

/** Kinds of the last flag-setting operation. */
export const K_FIXED = 0; // arithmetic flags materialised in `aux`
export const K_ADD = 1; // add/adc (aux = carry-in)
export const K_SUB = 2; // sub/sbb/cmp/neg (aux = borrow-in)
export const K_LOGIC = 3; // and/or/xor/test: CF=OF=0, AF=0
export const K_INC = 4; // inc: as add 1, CF kept (aux = previous CF)
export const K_DEC = 5; // dec: as sub 1, CF kept (aux = previous CF)
export const K_SHIFT = 6; // shl/shr/sar by a non-zero count: aux = CF|OF|AF, ZF SF PF from the result

/** PARITY[b] = FL_PF when b has an even number of set bits. */
export const PARITY = /* @__PURE__ */ (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let n = 0;
    for (let b = i; b !== 0; b >>= 1) n += b & 1;
    t[i] = (n & 1) === 0 ? FL_PF : 0;
  }
  return t;
})();

export class Flags {
  /** Non-arithmetic bits, always materialized. */
  sys = 0x2;
  /** Kind of the last flag-setting operation (K_*). */
  k = K_FIXED;
  /** Its operand size in bytes. */
  sz = 4;
  a0 = 0;
  a1 = 0;
  b0 = 0;
  b1 = 0;
  r0 = 0;
  r1 = 0;
  /** K_FIXED: the arithmetic bits; K_ADD/K_SUB: carry/borrow in (0/1); K_INC/K_DEC: CF before. */
  aux = 0;

  // ---- recorders (hot path: plain stores) ----

  /** Record an operation of size 1, 2 or 4. */
  set(k: number, sz: number, a: number, b: number, r: number, aux: number): void {
    this.k = k;
    this.sz = sz;
    this.a0 = a;
    this.b0 = b;
    this.r0 = r;
    this.aux = aux;
  }

  /** Record a 64-bit operation. */
  set64(k: number, a0: number, a1: number, b0: number, b1: number, r0: number, r1: number, aux: number): void {
    this.k = k;
    this.sz = 8;
    this.a0 = a0;
    this.a1 = a1;
    this.b0 = b0;
    this.b1 = b1;
    this.r0 = r0;
    this.r1 = r1;
    this.aux = aux;
  }

  /** Materialised arithmetic flags (FL_ARITH bits only). */
  setFixed(arith: number): void {
    this.k = K_FIXED;
    this.aux = arith & FL_ARITH;
  }

  // ---- derivation ----

  /** Sign bit of x moved to bit 31, for sizes 1, 2, 4 (x is the low half). */
  private msb(x: number, hi: number): number {
    const sz = this.sz;
    return sz === 8 ? hi : sz === 4 ? x : sz === 1 ? x << 24 : x << 16;
  }

  /** CF as 0/1. */
  carry(): number {
    switch (this.k) {
      case K_FIXED:
        return this.aux & FL_CF;
      case K_ADD: {
        // carry out of r = a + b + cin: r < a, or r == a with a carry in
        const lt = this.ult(this.r0, this.r1, this.a0, this.a1);
        return lt || (this.aux !== 0 && this.r0 === this.a0 && (this.sz !== 8 || this.r1 === this.a1)) ? 1 : 0;
      }
      case K_SUB: {
        const lt = this.ult(this.a0, this.a1, this.b0, this.b1);
        return lt || (this.aux !== 0 && this.a0 === this.b0 && (this.sz !== 8 || this.a1 === this.b1)) ? 1 : 0;
      }
      case K_LOGIC:
        return 0;
      case K_SHIFT:
        return this.aux & FL_CF;
      default:
        return this.aux;
    }
  }

  private ult(x0: number, x1: number, y0: number, y1: number): boolean {
    if (this.sz === 8 && x1 !== y1) return x1 >>> 0 < y1 >>> 0;
    return x0 >>> 0 < y0 >>> 0;
  }

  zero(): boolean {
    if (this.k === K_FIXED) return (this.aux & FL_ZF) !== 0;
    return this.r0 === 0 && (this.sz !== 8 || this.r1 === 0);
  }

  sign(): boolean {
    if (this.k === K_FIXED) return (this.aux & FL_SF) !== 0;
    return this.msb(this.r0, this.r1) < 0;
  }

  overflow(): boolean {
    switch (this.k) {
      case K_FIXED:
        return (this.aux & FL_OF) !== 0;
      case K_ADD:
      case K_INC:
        return this.msb((this.a0 ^ this.r0) & (this.b0 ^ this.r0), (this.a1 ^ this.r1) & (this.b1 ^ this.r1)) < 0;
      case K_SUB:
      case K_DEC:
        return this.msb((this.a0 ^ this.b0) & (this.a0 ^ this.r0), (this.a1 ^ this.b1) & (this.a1 ^ this.r1)) < 0;
      case K_SHIFT:
        return (this.aux & FL_OF) !== 0;
      default:
        return false;
    }
  }

  parity(): boolean {
    if (this.k === K_FIXED) return (this.aux & FL_PF) !== 0;
    return PARITY[this.r0 & 0xff] !== 0;
  }

  /** The six arithmetic flags as RFLAGS bits. */
  arith(): number {
    const k = this.k;
    if (k === K_FIXED) return this.aux;
    let v = this.carry() | PARITY[this.r0 & 0xff];
    if (k === K_SHIFT) v |= this.aux & FL_AF;
    else if (k !== K_LOGIC) v |= (this.a0 ^ this.b0 ^ this.r0) & FL_AF;
    if (this.zero()) v |= FL_ZF;
    if (this.sign()) v |= FL_SF;
    if (this.overflow()) v |= FL_OF;
    return v;
  }

  /** Condition code test, cc in x86 encoding order (CC_O .. CC_G). */
  test(cc: number): boolean {
    let t: boolean;
    if (this.k === K_SUB && this.aux === 0) {
      // cmp/sub: compare the operands directly
      const sz = this.sz;
      switch (cc >> 1) {
        case 1: // b
          t = this.ult(this.a0, this.a1, this.b0, this.b1);
          return t !== ((cc & 1) !== 0);
        case 2: // e
          t = this.a0 === this.b0 && (sz !== 8 || this.a1 === this.b1);
          return t !== ((cc & 1) !== 0);
        case 3: // be
          t = this.ult(this.a0, this.a1, this.b0, this.b1) || (this.a0 === this.b0 && (sz !== 8 || this.a1 === this.b1));
          return t !== ((cc & 1) !== 0);
        case 6: // l
        case 7: {
          // le
          let lt: boolean, eq: boolean;
          if (sz === 8) {
            lt = this.a1 < this.b1 || (this.a1 === this.b1 && this.a0 >>> 0 < this.b0 >>> 0);
            eq = this.a1 === this.b1 && this.a0 === this.b0;
          } else {
            const sh = 32 - 8 * sz;
            lt = this.a0 << sh < this.b0 << sh;
            eq = this.a0 === this.b0;
          }
          t = cc >> 1 === 6 ? lt : lt || eq;
          return t !== ((cc & 1) !== 0);
        }
      }
    }
    switch (cc >> 1) {
      case 0:
        t = this.overflow();
        break;
      case 1:
        t = this.carry() !== 0;
        break;
      case 2:
        t = this.zero();
        break;
      case 3:
        t = this.carry() !== 0 || this.zero();
        break;
      case 4:
        t = this.sign();
        break;
      case 5:
        t = this.parity();
        break;
      case 6:
        t = this.sign() !== this.overflow();
        break;
      default:
        t = this.zero() || this.sign() !== this.overflow();
    }
    return t !== ((cc & 1) !== 0);
  }

  /** Full RFLAGS value. */
  read(): number {
    return (this.sys & ~FL_ARITH) | this.arith() | 0x2;
  }

  /** Set every bit from a full RFLAGS value (popfq, iretq, debugger). */
  write(v: number): void {
    this.k = K_FIXED;
    this.aux = v & FL_ARITH;
    this.sys = (v & ~FL_ARITH) | 0x2;
  }
}
