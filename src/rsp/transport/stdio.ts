// stdio transport for `target remote | kgdb-sim serve --stdio`: stdin carries
// gdb's bytes, stdout ONLY our protocol bytes (all logs go through the logger,
// which the CLI points at stderr). One session: gdb owns the pipe's lifetime.
import type { Readable, Writable } from 'node:stream';
import { Session, type SessionOptions } from '../session.js';
import type { Target } from '../target.js';
import { streamTransport } from './stream.js';

export interface StdioOptions {
  session?: SessionOptions;
  /** Overridable for tests; default process.stdin / process.stdout. */
  input?: Readable;
  output?: Writable;
}

export function serveStdio(target: Target, opts: StdioOptions = {}): Session {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  const transport = streamTransport(input, output, {
    // Stop reading and flush stdout; the CLI exits when `ended` resolves.
    close: () => {
      input.pause();
      try {
        output.end();
      } catch {
        // stdout of a TTY cannot be ended; nothing more will be written anyway.
      }
    },
  });
  const session = new Session(transport, target, opts.session);
  input.resume();
  return session;
}
