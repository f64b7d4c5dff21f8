// Command-line option parsing shared by the commands (serve, run): every
// mistake is a UsageError with a message for the user.

import { parseLegacy, type LegacyToggle } from './kgdb/watchdog-touch.js';
import { parseScenario, type ScenarioName } from './kgdb/scenarios.js';
import type { ClockPolicy } from './target/machine.js';

/** A command-line mistake: the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {}


export function intOpt(v: string | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}`);
  return n;
}

/** "1s", "250ms", "100us", "5000ns", "2.5s" → virtual nanoseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s)?$/.exec(s.trim());
  if (!m) throw new UsageError(`bad duration "${s}" (examples: 1s, 250ms, 100us)`);
  const mult = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[(m[2] ?? 's') as 'ns' | 'us' | 'ms' | 's'];
  const v = Math.round(Number(m[1]) * mult);
  if (!(v > 0) || v > 3600e9) throw new UsageError('duration must be between 1ns and 1h');
  return v;
}

export function parseClock(v: string | undefined): ClockPolicy {
  if (v === undefined || v === 'wall') return { kind: 'wall' };
  if (v === 'none') return { kind: 'none' };
  if (/^\d+$/.test(v)) return { kind: 'fixed', ns: Number(v) };
  throw new UsageError('--clock must be wall, none, or a number of nanoseconds per stop');
}

/** --legacy and --scenario (issue 5), as the debugger's resume path and a scripted stop. */
export function parseWatchdogOptions(legacy: string | undefined, scenario: string | undefined): { legacy: Set<LegacyToggle>; scenario: ScenarioName | undefined } {
  try {
    return { legacy: parseLegacy(legacy), scenario: parseScenario(scenario) };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
