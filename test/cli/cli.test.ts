// The command line as a user runs it: the built dist/cli.js in a child process.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = join(__dirname, '..', '..', 'dist', 'cli.js');

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface RunJson {
  cpus: number;
  per_cpu: Array<{ cpu: number; instructions: number; ticks: number; context_switches: number }>;
  jiffies: number;
  counter_value: number;
  mips: number;
  trace_hash: string;
}

describe('kgdb-sim run', () => {
  const json = (args: string[]): RunJson => {
    const r = run(['run', '--json', ...args]);
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as RunJson;
  };

  it('reports per-CPU instructions, ticks and context switches, jiffies, counter_value, mips and a trace hash', () => {
    const r = json(['--cpus', '4', '--for', '500ms']);
    expect(r.cpus).toBe(4);
    expect(r.per_cpu).toHaveLength(4);
    for (const c of r.per_cpu) {
      expect(c.instructions).toBeGreaterThan(0);
      expect(c.ticks).toBeGreaterThanOrEqual(48); // HZ=100 for 0.5 s, the first tick after boot
      expect(c.ticks).toBeLessThanOrEqual(51);
      expect(c.context_switches).toBeGreaterThan(0);
    }
    expect(r.jiffies).toBeGreaterThanOrEqual(48);
    expect(r.counter_value).toBeGreaterThan(0);
    expect(r.mips).toBeGreaterThan(0);
    expect(r.trace_hash).toMatch(/^[0-9a-f]{8}$/);
  });

  it('is deterministic: the same seed gives the same trace, another seed a different one', () => {
    const a = json(['--seed', '11', '--for', '300ms']);
    const b = json(['--seed', '11', '--for', '300ms']);
    const c = json(['--seed', '12', '--for', '300ms']);
    expect(b.trace_hash).toBe(a.trace_hash);
    expect(b.counter_value).toBe(a.counter_value);
    expect(b.per_cpu).toEqual(a.per_cpu);
    expect(c.trace_hash).not.toBe(a.trace_hash);
  });

  it('prints a readable summary without --json', () => {
    const r = run(['run', '--cpus', '2', '--for', '100ms']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/CPU0: \d+ instructions, \d+ ticks/);
    expect(r.stdout).toMatch(/counter_value \d+/);
  });
});

describe('usage errors exit with 2 and say why', () => {
  for (const [args, msg] of [
    [['run', '--cpus', '0'], /--cpus must be between 1 and 256/],
    [['run', '--cpus', '300'], /--cpus must be between 1 and 256/],
    [['run', '--for', 'soon'], /bad duration/],
    [['run', '--bogus'], /Unknown option|unknown/i],
    [['serve', '--wire', 'ancient'], /--wire must be modern or kgdb/],
    [['serve', '--port', '70000'], /--port must be between/],
    [['frobnicate'], /unknown command/],
    [['elf'], /elf needs -o PATH/],
  ] as const) {
    it(args.join(' '), () => {
      const r = run([...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stdout).toBe('');
    });
  }
});

describe('kgdb-sim elf', () => {
  it('writes an ELF64 x86-64 symbol file that gdb resolves', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'kgdb-sim-elf-')), 'vmlinux');
    const r = run(['elf', '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    const b = readFileSync(out);
    expect([...b.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    expect(b[4]).toBe(2); // ELFCLASS64
    expect(b.readUInt16LE(18)).toBe(62); // EM_X86_64
    const gdb = execFileSync('gdb', ['-nx', '-batch', out, '-ex', 'info address counter_inc', '-ex', 'info address jiffies'], {
      encoding: 'utf8',
    });
    expect(gdb).toMatch(/Symbol "counter_inc" is at 0xffffffff81[0-9a-f]+ in a file compiled without debugging/);
    expect(gdb).toMatch(/Symbol "jiffies" is at 0xffffffff81[0-9a-f]+ in a file compiled without debugging/);
  });
});
