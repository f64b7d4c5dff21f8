// The one thing every transport gives a session: a byte duplex.
export interface Transport {
  /** Send bytes; the session makes one call per reply (ack included). */
  write(bytes: Uint8Array): void;
  /** End the connection once pending writes are flushed. */
  close(): void;
  onData(listener: (chunk: Uint8Array) => void): void;
  /** The peer went away (or close() completed). Called at most once. */
  onClose(listener: () => void): void;
}

/** Where transports and sessions send human-readable log lines (the CLI: stderr). */
export type Logger = (line: string) => void;
