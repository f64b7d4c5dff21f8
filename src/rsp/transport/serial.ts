// Serial transport (`--serial PATH --baud N`) with serialport 13. Like kgdboc,
// the line stays open across debugger sessions: after D/k a fresh session
// starts on the same port. Never call SerialPort.list() (it spawns udevadm,
// missing here, and crashes the process).
import type { Duplex } from 'node:stream';
import { Session, type SessionOptions } from '../session.js';
import type { Target } from '../target.js';
import type { Logger, Transport } from './types.js';

export interface SerialOptions {
  path: string;
  baudRate?: number;
  session?: Omit<SessionOptions, 'log'>;
  log?: Logger;
  /** For tests: open something else (e.g. SerialPortMock) instead of a real port. */
  open?: (path: string, baudRate: number) => Promise<Duplex>;
}

export interface SerialServer {
  readonly active: Session | null;
  close(): Promise<void>;
}

async function openSerialPort(path: string, baudRate: number): Promise<Duplex> {
  // Loaded lazily so the native binding is only touched when a serial line is used.
  const { SerialPort } = await import('serialport');
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    port.open((err) => (err ? reject(err) : resolve(port)));
  });
}

/** A Transport over the shared port for one session; close() ends the session, not the line. */
function sessionTransport(port: Duplex): { transport: Transport; detach(): void; lost(): void } {
  const dataListeners: Array<(c: Uint8Array) => void> = [];
  const closeListeners: Array<() => void> = [];
  let open = true;
  const onData = (c: Buffer): void => {
    if (open) for (const l of dataListeners) l(c);
  };
  port.on('data', onData);
  const detach = (): void => {
    if (!open) return;
    open = false;
    port.off('data', onData);
  };
  return {
    transport: {
      write: (bytes) => {
        if (open) port.write(bytes);
      },
      close: detach,
      onData: (l) => dataListeners.push(l),
      onClose: (l) => closeListeners.push(l),
    },
    detach,
    lost: () => {
      if (!open) return;
      detach();
      for (const l of closeListeners) l();
    },
  };
}

export async function serveSerial(target: Target, opts: SerialOptions): Promise<SerialServer> {
  const log = opts.log ?? (() => {});
  const baudRate = opts.baudRate ?? 115200;
  const port = await (opts.open ?? openSerialPort)(opts.path, baudRate);
  log(`rsp: serving on serial line ${opts.path} at ${baudRate} baud`);
  let closing = false;
  let active: Session | null = null;
  let current: ReturnType<typeof sessionTransport> | null = null;

  const start = (): void => {
    if (closing) return;
    current = sessionTransport(port);
    const session = new Session(current.transport, target, { ...opts.session, log });
    active = session;
    void session.ended.then((reason) => {
      if (active === session) active = null;
      if (reason !== 'disconnect') start();
    });
  };
  const lineGone = (why: string): void => {
    if (closing) return;
    closing = true;
    log(`rsp: serial line ${opts.path} ${why}`);
    current?.lost();
  };
  port.on('close', () => lineGone('closed'));
  port.on('error', (e: Error) => lineGone(`error: ${e.message}`));
  start();

  return {
    get active() {
      return active;
    },
    close: () =>
      new Promise<void>((resolve) => {
        lineGone('closed by us');
        port.once('close', () => resolve());
        port.destroy();
        // destroy() on an already-closed port may not emit 'close' again.
        setTimeout(resolve, 200).unref();
      }),
  };
}
