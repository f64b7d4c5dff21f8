// Timed machine events (APIC timer expiries, IPIs in flight), ordered by
// (time, cpu, seq) so that equal-time events always resolve the same way.

export interface MachineEvent {
  time: number; // virtual ns
  cpu: number; // destination CPU
  seq: number; // insertion order, the final tie-breaker
  kind: 'timer' | 'ipi' | 'nmi';
  vector: number;
  /** For timers: the generation they belong to (a re-armed timer ignores stale expiries). */
  gen: number;
}

function before(a: MachineEvent, b: MachineEvent): boolean {
  if (a.time !== b.time) return a.time < b.time;
  if (a.cpu !== b.cpu) return a.cpu < b.cpu;
  return a.seq < b.seq;
}

/** Binary min-heap of events. */
export class EventQueue {
  private readonly heap: MachineEvent[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(e: Omit<MachineEvent, 'seq'>): void {
    const ev = { ...e, seq: this.seq++ };
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  peekTime(): number {
    return this.heap.length ? this.heap[0].time : Infinity;
  }

  pop(): MachineEvent | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
