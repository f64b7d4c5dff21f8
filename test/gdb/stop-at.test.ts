// `kgdb-sim serve --stop-at LOCATION`: the machine is already stopped at a
// chosen kernel location when gdb connects. Real gdb over TCP against the
// built CLI; bad locations are usage errors that start nothing.

import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { assertCleanWire, type ChildServer, mark, requireCli, runGdb, section, startCli, sym, tempPath } from './harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const hex = (a: bigint): string => '0x' + BigInt.asUintN(64, a).toString(16);

async function serveAt(loc: string): Promise<{ remote: string; elf: string; srv: ChildServer }> {
  const elf = tempPath('vmlinux');
  const srv = await startCli(['serve', '--port', '0', '--elf', elf, '--cpus', '4', '--stop-at', loc], /on 127\.0\.0\.1:(\d+)[\s\S]*stopped at \S+ on CPU \d+/);
  cleanups.push(() => srv.kill());
  return { remote: `127.0.0.1:${srv.match[1]}`, elf, srv };
}

describe('serve --stop-at', () => {
  for (const [loc, expected] of [
    ['counter_inc', sym('counter_inc')],
    ['counter_inc+1', sym('counter_inc') + 1n], // after the 1-byte push rbp
    [hex(sym('crunch_thread')), sym('crunch_thread')],
  ] as const) {
    it(`${loc}: gdb finds the machine stopped there, with no breakpoint byte left in memory`, async () => {
      const { remote, elf } = await serveAt(loc);
      const run = await runGdb({
        remote, elf,
        commands: [
          mark('pc'), 'p/x $pc',
          mark('byte'), 'x/1xb $pc',
          mark('step'), 'stepi', 'p/x $pc',
          mark('end'), 'detach',
        ],
      });
      assertCleanWire(run);
      expect(section(run.stdout, 'pc')).toContain(`= ${hex(expected)}`);
      // the stop is a plain one: the debug core's breakpoint is gone and the bytes are the image's
      const byte = /:\s+0x([0-9a-f]{2})/.exec(section(run.stdout, 'byte'));
      expect(byte).not.toBeNull();
      expect(byte![1]).not.toBe('cc');
      // execution continues from exactly there: one instruction later the pc has moved forward a little
      const stepped = /= (0x[0-9a-f]+)/.exec(section(run.stdout, 'step'));
      expect(stepped).not.toBeNull();
      const d = BigInt(stepped![1]) - BigInt.asUintN(64, expected);
      expect(d > 0n && d <= 15n).toBe(true);
    });
  }

  it('stop reply names the thread that reached the location', async () => {
    const { remote, elf } = await serveAt('counter_inc');
    const run = await runGdb({ remote, elf, commands: [mark('t'), 'thread', 'bt 2', mark('end'), 'detach'] });
    assertCleanWire(run);
    const t = section(run.stdout, 't');
    expect(t).toMatch(/counter/);
    expect(t).toMatch(/#0 .*counter_inc/);
    expect(t).toMatch(/#1 .*counter_loop/);
  });
});

describe('serve --stop-at: bad locations exit with 2, say why and serve nothing', () => {
  const cli = requireCli();
  for (const [loc, msg] of [
    ['nosuch', /no symbol "nosuch"/],
    ['jiffies', /jiffies is not code/],
    [hex(sym('jiffies')), /is not code \(jiffies is an object\)/],
    ['0x1234', /0x1234 is not mapped/],
    ['counter_inc+2', /not at an instruction boundary of counter_inc/],
    [hex(sym('counter_inc') + 2n), /not at an instruction boundary of counter_inc/],
    ['counter_inc+99999', /beyond the end of counter_inc/],
    ['counter_inc+', /bad location/],
    ['', /bad location/],
    ['0x1ffffffff81001183', /bad location/], // 17 hex digits: wider than 64 bits
    ['__dr7_reload_begin+99999999', /is not mapped/], // a label has no size: bounded by what is mapped
    ['0xfffffffffffffff0', /is not mapped/],
    ['panic', /no CPU got there within 60 virtual s/],
  ] as const) {
    it(loc, () => {
      const r = spawnSync(process.execPath, [cli, 'serve', '--port', '0', '--cpus', '1', '--stop-at', loc], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stdout).toBe('');
    });
  }

  it('--stop-at with --scenario stop-in-watchdog is refused', () => {
    const r = spawnSync(process.execPath, [cli, 'serve', '--port', '0', '--stop-at', 'counter_inc', '--scenario', 'stop-in-watchdog'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/both choose where the machine stops/);
  });
});
