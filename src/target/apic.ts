// A per-CPU local APIC in x2APIC mode (programmed through MSRs 0x800-0x8ff):
// fixed-vector interrupt requests (IRR), in-service tracking (ISR) for EOI,
// the LVT timer, and a pending-NMI latch. Scheduling of timer expiries and
// IPI delivery belongs to the machine (it owns time).

export const MSR_APIC_ID = 0x802;
export const MSR_APIC_EOI = 0x80b;
export const MSR_APIC_ICR = 0x830;
export const MSR_APIC_LVT_TIMER = 0x832;
export const MSR_APIC_TMICT = 0x838;
export const MSR_APIC_TMCCT = 0x839;
export const MSR_APIC_TDCR = 0x83e;

export const LVT_MASKED = 1 << 16;
export const LVT_PERIODIC = 1 << 17;

/** Divide configuration register value → divisor (Intel SDM 10.5.4). */
export function tdcrDivisor(v: number): number {
  const code = ((v >> 1) & 0x4) | (v & 0x3);
  return code === 7 ? 1 : 2 << code;
}

export class LocalApic {
  private readonly irr = new Uint32Array(8);
  private readonly isr = new Uint32Array(8);
  lvtTimer = LVT_MASKED;
  initialCount = 0;
  divide = 0xb; // divide by 1
  /** Incremented at every (re)arm so stale queued expiries are ignored. */
  timerGen = 0;
  /** Virtual time the current timer period started. */
  timerStart = 0;
  nmiPending = false;
  /** Timer interrupts raised (for statistics). */
  timerFired = 0;

  request(vector: number): void {
    this.irr[vector >>> 5] |= 1 << (vector & 31);
  }

  private static highest(bits: Uint32Array): number {
    for (let w = 7; w >= 0; w--) if (bits[w] !== 0) return w * 32 + 31 - Math.clz32(bits[w]);
    return -1;
  }

  /** Highest requested vector that may be delivered now (its priority class beats the in-service one), or -1. */
  deliverable(): number {
    const v = LocalApic.highest(this.irr);
    if (v < 0) return -1;
    const s = LocalApic.highest(this.isr);
    return s >= 0 && v >> 4 <= s >> 4 ? -1 : v;
  }

  hasRequest(): boolean {
    return LocalApic.highest(this.irr) >= 0;
  }

  /** The CPU takes vector: IRR → ISR. */
  accept(vector: number): void {
    this.irr[vector >>> 5] &= ~(1 << (vector & 31));
    this.isr[vector >>> 5] |= 1 << (vector & 31);
  }

  eoi(): void {
    const s = LocalApic.highest(this.isr);
    if (s >= 0) this.isr[s >>> 5] &= ~(1 << (s & 31));
  }

  /** Timer period in virtual ns (timer clock is 1 GHz / divisor). */
  periodNs(): number {
    return this.initialCount * tdcrDivisor(this.divide);
  }

  currentCount(now: number): number {
    if (this.initialCount === 0) return 0;
    const p = this.periodNs();
    const elapsed = now - this.timerStart;
    if ((this.lvtTimer & LVT_PERIODIC) === 0 && elapsed >= p) return 0;
    return Math.floor((p - (elapsed % p)) / tdcrDivisor(this.divide));
  }
}
