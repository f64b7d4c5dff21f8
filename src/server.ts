// Assemble a debuggable machine: kernel image → machine → debug core → gdb
// target, with the runner driving it. Transports are attached by the caller.

import type { Image } from './kernel/link.js';
import { DebugCore } from './kgdb/debug-core.js';
import { GdbTarget } from './kgdb/gdb-target.js';
import { MemoryKernelView } from './kgdb/kernel-view.js';
import { Runner } from './kgdb/runner.js';
import type { ProfileName } from './rsp/index.js';
import { createMachine } from './system.js';
import type { ClockPolicy, Machine } from './target/machine.js';

export interface ServerOptions {
  image: Image;
  cpus: number;
  seed: number;
  clock: ClockPolicy;
  wire: ProfileName;
  log: (line: string) => void;
  /** Pace virtual time to wall time (serving); tests may turn it off to run flat out. */
  paced?: boolean;
}

export interface Sim {
  machine: Machine;
  core: DebugCore;
  runner: Runner;
  kernel: MemoryKernelView;
  target: GdbTarget;
  stop(): void;
}

export function startServer(o: ServerOptions): Sim {
  const machine = createMachine(o.image, { cpus: o.cpus, seed: o.seed, clock: o.clock });
  const kernel = new MemoryKernelView(machine.mem, o.image, o.cpus);
  const core = new DebugCore(machine, { log: (l) => o.log(l) });
  const runner = new Runner(machine, core, o.paced ?? true);
  const target = new GdbTarget({ machine, core, runner, kernel, numbering: o.wire === 'kgdb' ? 'linux' : 'modern' });
  runner.kick();
  return { machine, core, runner, kernel, target, stop: () => runner.stop() };
}
