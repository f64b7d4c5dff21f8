// The contract between the protocol library (src/rsp) and whatever it debugs.
// rsp knows nothing about x86 or kgdb: registers are opaque byte blocks described
// by target.xml, addresses are unsigned 64-bit bigints, threads are positive ids.

/** Result of an operation that can fail: `undefined` for success, or an errno-like code. */
export type Errno = number;

/** Well-known error numbers (Linux values; the wire profile decides how they are printed). */
export const EPERM = 1;
export const ENOENT = 2;
export const EFAULT = 14;
export const EBUSY = 16;
export const EINVAL = 22;
export const ENOSPC = 28;

/** Z/z packet types. */
export type BreakKind = 'sw' | 'hw' | 'write' | 'read' | 'access';

/** Why the target stopped; the session turns it into a T/S/W/X packet. */
export interface StopEvent {
  /** Signal number (5 = SIGTRAP, 2 = SIGINT, 4 = SIGILL, 11 = SIGSEGV). */
  signal: number;
  /** The thread that stopped (thread id > 0). */
  thread: number;
  /** Optional stop reason detail for the T packet. */
  reason?:
    | { kind: 'swbreak' }
    | { kind: 'hwbreak' }
    | { kind: 'watch' | 'rwatch' | 'awatch'; addr: bigint };
  /** Registers to expedite in the T packet: register number → raw target-order bytes. */
  expedite?: Array<[number, Uint8Array]>;
}

/** One action of a resume request (vCont or c/s/C/S). thread -1 = "all others / default". */
export interface ResumeAction {
  kind: 'continue' | 'step';
  signal?: number;
  thread: number; // -1 for the default action applying to every thread not named
}

export interface ThreadInfo {
  id: number;
  extra: string; // qThreadExtraInfo text (name, pid, state, CPU)
}

/**
 * The target the session drives. Everything is synchronous except running:
 * `resume` starts the target, and the target later calls the `onStop` callback
 * given to `attach` exactly once per resume (also after `interrupt`).
 */
export interface Target {
  /** target.xml and any other XML annexes, by annex name. */
  readonly features: ReadonlyMap<string, string>;
  /** Number of registers in the `g` block and their sizes in bytes, in target.xml order. */
  readonly registerSizes: readonly number[];
  /**
   * Optional: how many of the leading registers the `g`/`G` block covers
   * (default: all of registerSizes). `p`/`P` still reach every register.
   * Linux x86-64 kgdb's `g` is 156 bytes (16 GPRs, rip, eflags, cs, ss, ds,
   * es) while `p` also answers fs and gs (registers 22, 23).
   */
  readonly gRegisterCount?: number;

  /** The session connected: the target is told where to report stops. */
  attach(onStop: (ev: StopEvent) => void): void;
  /** The target is currently running (not stopped). */
  isRunning(): boolean;
  /** Stop a running target (Ctrl-C); it will call onStop with SIGINT (2). If stopped, no-op. */
  interrupt(): void;
  /** Why it is stopped now (the `?` packet). Stops the target first if it is running. */
  haltReason(): StopEvent;

  /** All thread ids in the order gdb should list them. */
  threads(): ThreadInfo[];
  /** The thread that stopped / is current. */
  currentThread(): number;
  threadAlive(tid: number): boolean;

  /** Whole register block of a thread, concatenated per registerSizes (little-endian). */
  readRegisters(tid: number): Uint8Array | Errno;
  writeRegisters(tid: number, data: Uint8Array): Errno | undefined;
  readRegister(tid: number, regno: number): Uint8Array | Errno;
  writeRegister(tid: number, regno: number, data: Uint8Array): Errno | undefined;

  /** Read len bytes; the whole range must be readable or nothing is returned. */
  readMemory(addr: bigint, len: number): Uint8Array | Errno;
  /** Write all bytes or none. */
  writeMemory(addr: bigint, data: Uint8Array): Errno | undefined;

  insertBreakpoint(kind: BreakKind, addr: bigint, length: number): Errno | undefined;
  removeBreakpoint(kind: BreakKind, addr: bigint, length: number): Errno | undefined;
  /** Which Z kinds the target supports (for qSupported / vCont? / Z replies). */
  supportsBreakpoint(kind: BreakKind): boolean;

  /**
   * Resume with the given actions (already validated by the session).
   * `resumeAddr` is the optional address of the legacy `c addr` / `s addr` /
   * `Csig;addr` / `Ssig;addr` forms: resume there (set the PC) instead of at
   * the current PC. gdb 13 never sends it; Linux kgdb honours it.
   */
  resume(actions: ResumeAction[], resumeAddr?: bigint): Errno | undefined;

  /** Remove all breakpoints and let the target run free (D / k / connection lost). */
  detach(): void;

  /** `monitor` command text → output text (qRcmd). */
  monitor(command: string): string;

  /**
   * Optional: which stop reasons gdb negotiated in qSupported. Called with both
   * false when a session starts, and again after each qSupported. When swbreak
   * is true the GDB manual makes the stub responsible for reporting a software
   * breakpoint stop with the PC already at the breakpoint address (no
   * decr_pc_after_break adjustment by gdb).
   */
  negotiated?(features: NegotiatedFeatures): void;
}

/** Stop-reason features gdb asked for (qSupported `swbreak+` / `hwbreak+`). */
export interface NegotiatedFeatures {
  swbreak: boolean;
  hwbreak: boolean;
}
