import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { SerialPortMock } from 'serialport';
import { serveTcp, type TcpServer } from '../../src/rsp/transport/tcp.js';
import { serveStdio } from '../../src/rsp/transport/stdio.js';
import { serveSerial } from '../../src/rsp/transport/serial.js';
import type { SessionEndReason } from '../../src/rsp/session.js';
import { FakeTarget, pkt, replies } from './helpers.js';

/** A tiny RSP client over a socket: collects bytes, waits for a number of packets. */
class Client {
  buf = '';
  closed = false;
  private waiters: Array<() => void> = [];
  constructor(readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf += d.toString('latin1');
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }
  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  async until(pred: () => boolean, ms = 2000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timeout; have ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  async request(payload: string): Promise<string> {
    this.buf = '';
    this.sock.write(pkt(payload));
    await this.until(() => /#[0-9a-f]{2}$/.test(this.buf));
    return this.buf;
  }
}

let server: TcpServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('tcp transport', () => {
  it('serves one debugger at a time and the next one after the first leaves', async () => {
    const target = new FakeTarget();
    const logs: string[] = [];
    const ends: SessionEndReason[] = [];
    server = await serveTcp(target, { port: 0, log: (l) => logs.push(l), onSessionEnd: (r) => ends.push(r) });
    expect(server.host).toBe('127.0.0.1');

    const a = await Client.connect(server.port);
    expect(await a.request('qC')).toBe('+' + pkt('QC1'));

    const b = await Client.connect(server.port);
    await b.until(() => b.closed);
    expect(b.buf).toBe('');
    expect(logs.some((l) => /refused connection .*already connected/.test(l))).toBe(true);

    // the first one is unaffected
    expect(await a.request('qAttached')).toBe('+' + pkt('1'));
    expect(await a.request('D')).toBe('+' + pkt('OK'));
    await a.until(() => a.closed);
    await new Promise((r) => setTimeout(r, 20));
    expect(ends).toEqual(['detach']);

    const c = await Client.connect(server.port);
    expect(replies(await c.request('?'))).toEqual(['T05thread:1;']);
    // killed debugger: the target is detached, the server keeps serving
    c.sock.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(ends).toEqual(['detach', 'disconnect']);
    expect(target.work.filter((x) => x[0] === 'detach').length).toBe(2);

    const d = await Client.connect(server.port);
    expect(replies(await d.request('qC'))).toEqual(['QC1']);
    d.sock.destroy();
  });
});

describe('stdio transport', () => {
  it('writes only protocol bytes to stdout and ends with D', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const chunks: Buffer[] = [];
    output.on('data', (d: Buffer) => chunks.push(d));
    const logs: string[] = [];
    const session = serveStdio(new FakeTarget(), { input, output, session: { log: (l) => logs.push(l) } });
    input.write(pkt('qC') + '$bad#00' + pkt('D'));
    await expect(session.ended).resolves.toBe('detach');
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(chunks).toString('latin1')).toBe('+' + pkt('QC1') + '-+' + pkt('OK'));
    expect(logs.length).toBeGreaterThan(0); // logs went to the logger, not to stdout
  });
});

describe('serial transport', () => {
  it('runs sessions back to back on one line', async () => {
    const path = '/dev/ttyFAKE0';
    SerialPortMock.binding.createPort(path, { echo: false, record: true });
    let port: SerialPortMock | null = null;
    const target = new FakeTarget();
    const srv = await serveSerial(target, {
      path,
      baudRate: 115200,
      open: (p, baudRate) =>
        new Promise((resolve, reject) => {
          const sp = new SerialPortMock({ path: p, baudRate }, (err) => (err ? reject(err) : resolve(sp)));
          port = sp;
        }),
    });
    const p = port as unknown as SerialPortMock;
    const written = (): string => Buffer.from(p.port!.recording).toString('latin1');
    p.port!.emitData(Buffer.from(pkt('qC')));
    await new Promise((r) => setTimeout(r, 30));
    expect(written()).toBe('+' + pkt('QC1'));
    p.port!.emitData(Buffer.from(pkt('D')));
    await new Promise((r) => setTimeout(r, 30));
    expect(written().endsWith('+' + pkt('OK'))).toBe(true);
    expect(target.work.some((c) => c[0] === 'detach')).toBe(true);
    // a new session on the same line
    expect(srv.active).not.toBeNull();
    p.port!.emitData(Buffer.from(pkt('qAttached')));
    await new Promise((r) => setTimeout(r, 30));
    expect(written().endsWith('+' + pkt('1'))).toBe(true);
    await srv.close();
    SerialPortMock.binding.reset();
  });
});
