#!/usr/bin/env node
// kgdb-sim command line. Logs go to stderr; stdout carries results (and, with
// `serve --stdio`, nothing but protocol bytes). Exit codes: 0 ok, 1 failure, 2 usage.

import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildKernelImage } from './kernel/image.js';
import { writeElf } from './kernel/elf.js';
import { serveSerial, serveStdio, serveTcp, type ProfileName } from './rsp/index.js';
import { type Sim, startServer } from './server.js';
import { LocationError } from './kgdb/stop-at.js';
import { runCommand } from './run.js';
import { scenarioClock } from './kgdb/scenarios.js'; // issue 5
import { intOpt, parseClock, parseWatchdogOptions, UsageError } from './cli-options.js';

const USAGE = `usage:
  kgdb-sim serve [--host 127.0.0.1] [--port 2331] [--stdio] [--serial PATH --baud 115200]
                 [--cpus 4] [--seed N] [--wire modern|kgdb] [--elf PATH] [--clock wall|none|NS] [--trace]
                 [--legacy clocksource-spinlock,softlockup-nosync,no-touch] [--scenario stop-in-watchdog|long-pause]
                 [--stop-at SYMBOL|SYMBOL+OFFSET|0xADDRESS]
  kgdb-sim elf -o PATH
  kgdb-sim run [--cpus N] [--seed N] [--for DURATION] [--json]
               [--scenario stop-in-watchdog|long-pause [--legacy LIST] [--clock none|NS]]
  kgdb-sim bench [--json] [--quick] [--placement same|free]
`;

function log(line: string): void {
  process.stderr.write(line.endsWith('\n') ? line : line + '\n');
}

async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      stdio: { type: 'boolean', default: false },
      serial: { type: 'string' },
      baud: { type: 'string' },
      cpus: { type: 'string' },
      seed: { type: 'string' },
      wire: { type: 'string', default: 'modern' },
      elf: { type: 'string' },
      clock: { type: 'string' },
      trace: { type: 'boolean', default: false },
      legacy: { type: 'string' }, // issue 5
      scenario: { type: 'string' }, // issue 5
      'stop-at': { type: 'string' },
    },
  });
  const wire = values.wire;
  if (values['stop-at'] !== undefined && values.scenario === 'stop-in-watchdog') throw new UsageError('--stop-at and --scenario stop-in-watchdog both choose where the machine stops');
  if (wire !== 'modern' && wire !== 'kgdb') throw new UsageError('--wire must be modern or kgdb');
  if (values.stdio && values.serial) throw new UsageError('--stdio and --serial are exclusive');
  const cpus = intOpt(values.cpus, 'cpus', 4, 1, 256);
  const seed = intOpt(values.seed, 'seed', 1, 0, 0xffffffff);
  const port = intOpt(values.port, 'port', 2331, 0, 65535);
  const baud = intOpt(values.baud, 'baud', 115200, 50, 4_000_000);
  const { legacy, scenario } = parseWatchdogOptions(values.legacy, values.scenario);
  // A scenario brings its own hardware time per stop (long-pause: 80 s) unless --clock says otherwise.
  const clock = values.clock === undefined && scenario !== undefined ? scenarioClock(scenario) : parseClock(values.clock);
  const image = buildKernelImage();
  const elfPath = values.elf ?? join(tmpdir(), 'kgdb-sim', 'vmlinux');
  mkdirSync(join(elfPath, '..'), { recursive: true });
  writeFileSync(elfPath, writeElf(image));
  let sim: Sim;
  try {
    sim = startServer({ image, cpus, seed, clock, wire: wire as ProfileName, log, legacy, scenario, stopAt: values['stop-at'] });
  } catch (e) {
    throw e instanceof LocationError ? new UsageError(e.message) : e;
  }
  const session = {
    profile: wire as ProfileName,
    trace: values.trace ? (dir: string, text: string) => log(`${dir === 'recv' ? '<-' : '->'} ${text}`) : undefined,
  };

  if (values.stdio) {
    log(`kgdb-sim: ${cpus}-CPU machine on stdio (${wire} wire); symbols: ${elfPath}`);
    const s = serveStdio(sim.target, { session: { ...session, log } });
    const reason = await s.ended;
    sim.stop();
    log(`kgdb-sim: session ended (${reason})`);
    return 0;
  }
  if (values.serial) {
    await serveSerial(sim.target, { path: values.serial, baudRate: baud, session, log });
    log(`kgdb-sim: ${cpus}-CPU machine on serial line ${values.serial} at ${baud} baud (${wire} wire)`);
    log(`Connect with:  gdb ${elfPath} -ex 'set serial baud ${baud}' -ex 'target remote ${values.serial}'`);
    return await new Promise<number>(() => {});
  }
  const server = await serveTcp(sim.target, { host: values.host, port, session, log });
  process.stdout.write(
    `kgdb-sim: serving a ${cpus}-CPU machine on ${server.host}:${server.port} (${wire} wire, seed ${seed})\n` +
      `Connect with:  gdb ${elfPath} -ex 'target remote ${server.host}:${server.port}'\n`,
  );
  const shutdown = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  return await new Promise<number>(() => {});
}

function elf(argv: string[]): number {
  const { values } = parseArgs({ args: argv, strict: true, options: { output: { type: 'string', short: 'o' } } });
  if (!values.output) throw new UsageError('elf needs -o PATH');
  writeFileSync(values.output, writeElf(buildKernelImage()));
  return 0;
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  try {
    switch (cmd) {
      case 'serve':
        return await serve(rest);
      case 'elf':
        return elf(rest);
      case 'run':
        return runCommand(rest);
      case 'bench': {
        const { benchCommand } = await import('./bench/index.js');
        return await benchCommand(rest);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`kgdb-sim: ${e.message}\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`kgdb-sim: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

void main().then((code) => {
  process.exitCode = code;
});
