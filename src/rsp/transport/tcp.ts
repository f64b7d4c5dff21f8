// TCP transport: one debugger at a time. A second connection while a session is
// active is closed at once with a log line; when the session ends the server
// serves the next connection.
import net from 'node:net';
import { Session, type SessionEndReason, type SessionOptions } from '../session.js';
import type { Target } from '../target.js';
import { streamTransport } from './stream.js';
import type { Logger } from './types.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 2331;

export interface TcpServerOptions {
  host?: string;
  /** 0 picks a free port (tests). Default 2331. */
  port?: number;
  session?: Omit<SessionOptions, 'log'>;
  log?: Logger;
  /** Called when each session ends (CLI status, tests). */
  onSessionEnd?: (reason: SessionEndReason) => void;
}

export interface TcpServer {
  readonly host: string;
  readonly port: number;
  /** The session being served, if any. */
  readonly active: Session | null;
  /** Stop listening and drop the current connection (the target is detached). */
  close(): Promise<void>;
}

export function serveTcp(target: Target, opts: TcpServerOptions = {}): Promise<TcpServer> {
  const log = opts.log ?? (() => {});
  const host = opts.host ?? DEFAULT_HOST;
  let active: Session | null = null;
  let activeSocket: net.Socket | null = null;
  let listeningPort = 0;
  let closing = false;

  const server = net.createServer((socket) => {
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    if (active !== null) {
      log(`rsp: refused connection from ${peer}: a debugger is already connected (one at a time)`);
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    // Replies are written whole (ack included); without this each would wait for Nagle.
    socket.setNoDelay(true);
    log(`rsp: debugger connected from ${peer}`);
    const session = new Session(
      streamTransport(socket, socket, { close: () => socket.end() }),
      target,
      { ...opts.session, log },
    );
    active = session;
    activeSocket = socket;
    void session.ended.then((reason) => {
      if (active === session) {
        active = null;
        activeSocket = null;
      }
      // After D/k the socket is ended by the session; make sure it is gone either way.
      if (reason === 'disconnect') socket.destroy();
      if (!closing) log(`rsp: waiting for the next debugger on ${host}:${listeningPort}`);
      opts.onSessionEnd?.(reason);
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      server.on('error', (e) => log(`rsp: server error: ${e.message}`));
      listeningPort = (server.address() as net.AddressInfo).port;
      resolve({
        host,
        port: listeningPort,
        get active() {
          return active;
        },
        close: () =>
          new Promise<void>((done) => {
            closing = true;
            activeSocket?.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
