// Wire profiles: the differences between our default ("modern", what gdb 13 and
// gdbserver speak) and Linux kgdb's x86 stub, kept in one place so a reader sees
// every Linux quirk together. Facts from kernel/debug/gdbstub.c (design.md §4).
import type { CommandType } from './commands/types.js';
import { hex2 } from './hex.js';

export type ProfileName = 'modern' | 'kgdb';

export interface WireProfile {
  readonly name: ProfileName;
  /** Largest packet payload accepted (and, for modern, advertised as PacketSize). */
  readonly defaultMaxPacket: number;
  /** Run-length encode replies. */
  readonly rle: boolean;
  /** Drop oversized packets without a word (kgdb) instead of answering `E`. */
  readonly silentOversize: boolean;
  /** Packet types answered with the empty reply ("not supported") in this profile. */
  readonly unsupported: ReadonlySet<CommandType>;
  /** `?` answers `S<sig>` (kgdb) instead of a full `T` stop reply. */
  readonly shortHaltReply: boolean;
  /** Stop replies carry expedited registers and stop reasons (swbreak, watch…). */
  readonly richStopReply: boolean;
  /** Thread ids per qfThreadInfo/qsThreadInfo reply; undefined = as many as fit. */
  readonly threadsPerReply: number | undefined;
  /** Reply that ends the thread list. */
  readonly threadListEnd: string;
  /** `E` + errno, as this stub prints it. */
  formatError(errno: number): string;
  /** A thread id as it appears in replies. */
  formatThreadId(id: number): string;
}

/** Default PacketSize: large enough that gdb moves 64 KiB of memory per `m`/`X`. */
export const MODERN_MAX_PACKET = 0x20000;

export const modernProfile: WireProfile = {
  name: 'modern',
  defaultMaxPacket: MODERN_MAX_PACKET,
  rle: true,
  silentOversize: false,
  unsupported: new Set<CommandType>(),
  shortHaltReply: false,
  richStopReply: true,
  threadsPerReply: undefined,
  threadListEnd: 'l',
  // gdb ignores the number; we print errno in two DECIMAL digits as Linux kgdb
  // does (E14 = EFAULT, E22 = EINVAL), so the two profiles name errors alike.
  formatError: (errno) => {
    const e = Math.abs(errno) % 100;
    return 'E' + String(Math.floor(e / 10)) + String(e % 10);
  },
  formatThreadId: (id) => id.toString(16),
};

/** Linux kgdb: `#define BUFMAX 1024`, and get_packet() stores at most BUFMAX-2 payload bytes + '#'. */
export const KGDB_BUFMAX = 1024;

/** Linux: KGDB_MAX_THREAD_QUERY — thread ids per qf/qsThreadInfo reply. */
export const KGDB_MAX_THREAD_QUERY = 17;

export const kgdbProfile: WireProfile = {
  name: 'kgdb',
  defaultMaxPacket: KGDB_BUFMAX - 2,
  // put_packet() sends the buffer verbatim.
  rle: false,
  // get_packet() gives up at BUFMAX-1 bytes and goes back to waiting for '$': no ack, no reply.
  silentOversize: true,
  // x86 has no CONFIG_HAVE_ARCH_KGDB_QXFER_PKT: qSupported and qXfer fall through to an
  // empty reply, so gdb sees no PacketSize, no no-ack mode, no vCont; the rest are unhandled.
  unsupported: new Set<CommandType>([
    'supported',
    'xferFeatures',
    'startNoAck',
    'vContQuery',
    'vCont',
    'attached',
    'symbol',
  ]),
  // gdb_cmd_status(): 'S' + hex signal.
  shortHaltReply: true,
  // gdb_serial_stub(): "T" sig "thread:" id ";" and nothing else.
  richStopReply: false,
  threadsPerReply: KGDB_MAX_THREAD_QUERY,
  // The last qsThreadInfo overwrites the 'm' and sends an empty packet.
  threadListEnd: '',
  // error_packet(): hex_asc[e / 10], hex_asc[e % 10] — two DECIMAL digits.
  formatError: (errno) => {
    const e = Math.abs(errno) % 100;
    return 'E' + String(Math.floor(e / 10)) + String(e % 10);
  },
  // int_to_threadref() + pack_threadid(): 32-bit big-endian, leading zero BYTES dropped,
  // "00" for zero — so pid 1 is "01" and CPU0's shadow thread (-2) "fffffffe".
  formatThreadId: (id) => {
    const v = id >>> 0;
    let s = '';
    for (let shift = 24; shift >= 0; shift -= 8) {
      const b = (v >>> shift) & 0xff;
      if (s !== '' || b !== 0) s += hex2(b);
    }
    return s === '' ? '00' : s;
  },
};

export function profileByName(name: ProfileName): WireProfile {
  return name === 'kgdb' ? kgdbProfile : modernProfile;
}
