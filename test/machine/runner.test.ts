// The runner paces a served machine to wall time. While every CPU idles it
// sleeps in batches (IDLE_BATCH_MS) so an idle machine costs little host CPU;
// virtual time then trails wall time by up to a batch, and a Ctrl-C must first
// catch up so that it stops the machine at "now".

import { afterEach, describe, expect, it } from 'vitest';
import { buildKernelImage } from '../../src/kernel/image.js';
import { symbolAddr } from '../../src/kernel/link.js';
import { IDLE_BATCH_MS } from '../../src/kgdb/runner.js';
import { startServer, type Sim } from '../../src/server.js';
import { canon } from '../../src/system.js';

let sim: Sim | null = null;
afterEach(() => {
  sim?.stop();
  sim = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('paced runner', () => {
  it('an idle machine trails wall time by up to a batch; Ctrl-C catches up and stops it at the present', async () => {
    const image = buildKernelImage();
    const stops: number[] = [];
    sim = startServer({ image, cpus: 4, seed: 1, clock: { kind: 'none' }, wire: 'modern', log: () => {}, paced: true });
    const t0 = performance.now(); // the runner was kicked just before: lag is underestimated by well under 1 ms
    // No demo threads (kthreads_init returns at once): after boot every CPU idles in default_idle.
    sim.machine.mem.poke(canon(symbolAddr(image, 'kthreads_init')), Uint8Array.of(0xc3));
    sim.target.attach(() => stops.push(sim!.machine.now));
    const lag = (): number => (performance.now() - t0) * 1e6 - sim!.machine.now;
    await sleep(300); // boot
    // Batching: within two batches there is a moment where the machine trails by more than 40% of one.
    let before = 0;
    for (const end = performance.now() + 2 * IDLE_BATCH_MS + 50; performance.now() < end && before < 0.4 * IDLE_BATCH_MS * 1e6; ) {
      await sleep(5);
      before = lag();
    }
    expect(before).toBeGreaterThan(0.4 * IDLE_BATCH_MS * 1e6);
    expect(sim.machine.cpus.every((c) => c.halted)).toBe(true);
    sim.target.interrupt();
    const after = lag();
    expect(sim.target.isRunning()).toBe(false);
    await sleep(0); // the stop is reported from a microtask
    expect(stops).toHaveLength(1);
    expect(stops[0]).toBe(sim.machine.now);
    expect(after).toBeLessThan(5e6); // stopped within 5 ms of virtual time of when the interrupt arrived
    expect(after).toBeGreaterThan(-1e6); // and never ahead of wall time
  });
});
