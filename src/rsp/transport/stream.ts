// Adapt a Node readable + writable pair (socket, stdio, serial port) to a Transport.
import type { Readable, Writable } from 'node:stream';
import type { Transport } from './types.js';

export interface StreamTransportOptions {
  /** What close() does; default: end the writable. */
  close?: () => void;
}

export function streamTransport(input: Readable, output: Writable, opts: StreamTransportOptions = {}): Transport {
  let closed = false;
  const closeListeners: Array<() => void> = [];
  const fireClose = (): void => {
    if (closed) return;
    closed = true;
    for (const l of closeListeners) l();
  };
  input.on('end', fireClose);
  input.on('close', fireClose);
  // A reset connection must end the session, not crash the process.
  input.on('error', fireClose);
  if ((output as object) !== (input as object)) output.on('error', fireClose);
  return {
    write(bytes) {
      if (!closed && output.writable) output.write(bytes);
    },
    close() {
      if (opts.close) opts.close();
      else output.end();
    },
    onData(listener) {
      input.on('data', (chunk: Buffer | string) => listener(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk));
    },
    onClose(listener) {
      closeListeners.push(listener);
    },
  };
}
