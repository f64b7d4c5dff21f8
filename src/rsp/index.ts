// Public surface of the protocol library.
export * from './target.js';
export { Session, type SessionOptions, type SessionEndReason, type TraceLogger, type TraceDirection } from './session.js';
export { Framer, type FrameHandler } from './framer.js';
export { encodePacket, checksum, printable, bytesToHex, textToHex, hex2 } from './writer.js';
export { parseCommand } from './commands/index.js';
export type { Command, ParseResult, ParseError, ParseContext } from './commands/types.js';
export { modernProfile, kgdbProfile, profileByName, MODERN_MAX_PACKET, KGDB_BUFMAX, type WireProfile, type ProfileName } from './profile.js';
export type { Transport, Logger } from './transport/types.js';
export { streamTransport } from './transport/stream.js';
export { serveTcp, DEFAULT_HOST, DEFAULT_PORT, type TcpServer, type TcpServerOptions } from './transport/tcp.js';
export { serveStdio, type StdioOptions } from './transport/stdio.js';
export { serveSerial, type SerialOptions, type SerialServer } from './transport/serial.js';
