// Real gdb 13 against the rsp library over TCP, with a fake x86-64 target:
// proves framing, acks → no-ack switch, qXfer target.xml, thread listing,
// vCont stepping and detach against the real peer (not our own encoder).
import { execFile } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { serveTcp, type TcpServer } from '../../src/rsp/transport/tcp.js';
import type { Errno, ResumeAction } from '../../src/rsp/target.js';
import { FakeTarget } from './helpers.js';

const GDB = '/usr/bin/gdb';

const GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
/** The registers gdb's amd64 port requires in org.gnu.gdb.i386.core, in order. */
const CORE: Array<[string, number, string]> = [
  ...GPRS.map((n): [string, number, string] => [n, 64, n === 'rbp' || n === 'rsp' ? 'data_ptr' : 'int64']),
  ['rip', 64, 'code_ptr'],
  ['eflags', 32, 'int32'],
  ...['cs', 'ss', 'ds', 'es', 'fs', 'gs'].map((n): [string, number, string] => [n, 32, 'int32']),
  ...Array.from({ length: 8 }, (_, i): [string, number, string] => [`st${i}`, 80, 'i387_ext']),
  ...['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'].map((n): [string, number, string] => [n, 32, 'int']),
];
const XML =
  '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>i386:x86-64</architecture>' +
  '<feature name="org.gnu.gdb.i386.core">' +
  CORE.map(([n, bits, type]) => `<reg name="${n}" bitsize="${bits}" type="${type}"/>`).join('') +
  '</feature></target>';
const RIP_OFFSET = 16 * 8;

class FakeX86 extends FakeTarget {
  override readonly registerSizes: readonly number[] = CORE.map(([, bits]) => bits / 8);
  constructor() {
    super();
    this.features = new Map([['target.xml', XML]]);
  }
  private setRip(tid: number, v: bigint): void {
    const r = this.readRegisters(tid) as Uint8Array;
    Buffer.from(r.buffer, r.byteOffset).writeBigUInt64LE(v, RIP_OFFSET);
    this.writeRegisters(tid, r);
  }
  rip(tid: number): bigint {
    const r = this.readRegisters(tid) as Uint8Array;
    return Buffer.from(r.buffer, r.byteOffset).readBigUInt64LE(RIP_OFFSET);
  }
  init(): void {
    for (const t of this.threadList) this.setRip(t.id, 0x1000n + BigInt(t.id) * 0x10n);
  }
  override resume(actions: ResumeAction[], addr?: bigint): Errno | undefined {
    const r = super.resume(actions, addr);
    const step = actions.find((a) => a.kind === 'step');
    const tid = step && step.thread > 0 ? step.thread : this.current;
    setImmediate(() => {
      if (step) this.setRip(tid, this.rip(tid) + 1n);
      const rip = Buffer.alloc(8);
      rip.writeBigUInt64LE(this.rip(tid));
      this.stop({ signal: 5, thread: tid, expedite: [[16, rip]] });
    });
    return r;
  }
}

function runGdb(port: number, commands: string[], pre: string[] = []): Promise<{ stdout: string; stderr: string }> {
  const args = ['-batch', '-nx', '-ex', 'set debug remote 1'];
  for (const c of pre) args.push('-ex', c);
  args.push('-ex', `target remote 127.0.0.1:${port}`);
  for (const c of commands) args.push('-ex', c);
  return new Promise((resolve, reject) => {
    execFile(GDB, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && err.killed) reject(err);
      else resolve({ stdout, stderr });
    });
  });
}

let server: TcpServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('real gdb', () => {
  it('connects, lists threads, reads registers and memory, steps, detaches', async () => {
    const target = new FakeX86();
    target.init();
    target.mem.set([0x90, 0x90, 0xcc, 0xc3], 0x10);
    const logs: string[] = [];
    server = await serveTcp(target, { port: 0, log: (l) => logs.push(l) });
    const { stdout, stderr } = await runGdb(server.port, [
      'info threads',
      'thread 2',
      'p/x $rip',
      'thread 1',
      'x/4xb 0x1010',
      'stepi',
      'p/x $pc',
      'detach',
    ]);
    const all = stdout + stderr;
    expect(all).not.toMatch(/Packet instead of Ack|Ack timeout|Bad checksum|retransmit|too long|Remote failure|Malformed/i);
    expect(stderr).toMatch(/QStartNoAckMode/);
    // after the switch gdb stops acking
    const afterNoAck = stderr.slice(stderr.indexOf('Packet received: OK', stderr.indexOf('QStartNoAckMode')) + 1);
    expect(afterNoAck).not.toMatch(/Received Ack/);
    expect(stdout).toMatch(/Thread 1 \(init pid 1 running CPU0\)/);
    expect(stdout).toMatch(/Thread 2 \(kworker pid 2 sleeping\)/);
    expect(stdout).toMatch(/Thread 31 \(counter pid 31\)/);
    expect(stdout).toMatch(/\$1 = 0x1020/);
    expect(stdout).toMatch(/0x1010:\s+0x90\s+0x90\s+0xcc\s+0xc3/);
    expect(stdout).toMatch(/\$2 = 0x1011/);
    expect(stdout).toMatch(/\[Inferior 1 \(Remote target\) detached\]/);
    // stepi went out as vCont with the thread, others continuing
    expect(target.work).toContainEqual([
      'resume',
      [
        { kind: 'step', thread: 1 },
        { kind: 'continue', thread: -1 },
      ],
    ]);
    expect(target.work[target.work.length - 1]).toEqual(['detach']);
  }, 40_000);

  it('speaks the kgdb wire profile to gdb (no qSupported, S05, byte-packed ids, empty end of list)', async () => {
    const target = new FakeX86();
    target.threadList = [
      { id: 0xfffffffe, extra: 'shadowCPU0' },
      ...Array.from({ length: 20 }, (_, i) => ({ id: i + 1, extra: `task${i + 1}` })),
    ];
    target.init();
    target.current = 3;
    server = await serveTcp(target, { port: 0, session: { profile: 'kgdb' } });
    const { stdout, stderr } = await runGdb(server.port, ['info threads', 'thread 4', 'p/x $rip', 'thread 1', 'x/2xb 0x1010', 'detach'], [
      'set architecture i386:x86-64',
    ]);
    const all = stdout + stderr;
    expect(all).not.toMatch(/Packet instead of Ack|Ack timeout|Bad checksum|retransmit|too long|Remote failure|Malformed/i);
    expect(stderr).toMatch(/Packet received: S05/);
    expect(stderr).not.toMatch(/QStartNoAckMode/);
    expect(stdout).toMatch(/Thread 4294967294 \(shadowCPU0\)/);
    expect(stdout).toMatch(/Thread 20 \(task20\)/);
    expect((stdout.match(/^\*?\s+\d+\s+Thread /gm) ?? []).length).toBe(21);
    // S05 names no thread, so gdb starts on the first listed one (as with real kgdb)
    expect(stdout).toMatch(/^\* 1\s+Thread 4294967294 \(shadowCPU0\)/m);
    expect(stdout).toMatch(/\$1 = 0x1030/);
    expect(stderr).toMatch(/Sending packet: \$Hg3#/);
    expect(stderr).toMatch(/Sending packet: \$Hg-2#/);
    expect(stdout).toMatch(/\[Inferior 1 \(Remote target\) detached\]/);
  }, 40_000);
});
