// The register file gdb sees, described once: target.xml is generated from
// this table and the `g`/`G`/`p`/`P` encoders walk the same table, so the two
// can never disagree about sizes or order.
//
// gdb's i386:x86-64 description requires the x87 registers inside the core
// feature and expects SSE; the simulated CPU executes no x87/SSE instructions,
// so those registers hold their reset values (writes are kept per CPU so a
// `G` round-trips, but nothing executes on them).

import { join64, type Cpu } from '../target/cpu.js';

export type RegSource =
  | { kind: 'gpr'; n: number } // x86 register number
  | { kind: 'rip' }
  | { kind: 'eflags' }
  | { kind: 'seg'; value: number }
  | { kind: 'fsbase' }
  | { kind: 'gsbase' }
  | { kind: 'cr'; n: number }
  | { kind: 'dr'; n: number }
  | { kind: 'fp'; offset: number }; // offset into the per-CPU x87/SSE shadow block

export interface RegDef {
  name: string;
  bits: number;
  type: string;
  group?: string;
  feature: string;
  src: RegSource;
}

const GPR_ORDER: Array<[string, number]> = [
  ['rax', 0], ['rbx', 3], ['rcx', 1], ['rdx', 2], ['rsi', 6], ['rdi', 7], ['rbp', 5], ['rsp', 4],
  ['r8', 8], ['r9', 9], ['r10', 10], ['r11', 11], ['r12', 12], ['r13', 13], ['r14', 14], ['r15', 15],
];

const CORE = 'org.gnu.gdb.i386.core';
const SSE = 'org.gnu.gdb.i386.sse';
const SEGMENTS = 'org.gnu.gdb.i386.segments';
const SYSTEM = 'org.kgdbsim.x86.system';

function buildRegs(): { regs: RegDef[]; fpSize: number } {
  const regs: RegDef[] = [];
  for (const [name, n] of GPR_ORDER) {
    const type = name === 'rbp' || name === 'rsp' ? 'data_ptr' : 'int64';
    regs.push({ name, bits: 64, type, feature: CORE, src: { kind: 'gpr', n } });
  }
  regs.push({ name: 'rip', bits: 64, type: 'code_ptr', feature: CORE, src: { kind: 'rip' } });
  regs.push({ name: 'eflags', bits: 32, type: 'i386_eflags', feature: CORE, src: { kind: 'eflags' } });
  const segs: Array<[string, number]> = [['cs', 0x10], ['ss', 0x18], ['ds', 0x18], ['es', 0x18], ['fs', 0], ['gs', 0]];
  for (const [name, value] of segs) regs.push({ name, bits: 32, type: 'int32', feature: CORE, src: { kind: 'seg', value } });
  let fp = 0;
  for (let i = 0; i < 8; i++) {
    regs.push({ name: `st${i}`, bits: 80, type: 'i387_ext', feature: CORE, src: { kind: 'fp', offset: fp } });
    fp += 10;
  }
  for (const name of ['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop']) {
    regs.push({ name, bits: 32, type: 'int', group: 'float', feature: CORE, src: { kind: 'fp', offset: fp } });
    fp += 4;
  }
  for (let i = 0; i < 16; i++) {
    regs.push({ name: `xmm${i}`, bits: 128, type: 'vec128', feature: SSE, src: { kind: 'fp', offset: fp } });
    fp += 16;
  }
  regs.push({ name: 'mxcsr', bits: 32, type: 'i386_mxcsr', group: 'vector', feature: SSE, src: { kind: 'fp', offset: fp } });
  fp += 4;
  regs.push({ name: 'fs_base', bits: 64, type: 'int', feature: SEGMENTS, src: { kind: 'fsbase' } });
  regs.push({ name: 'gs_base', bits: 64, type: 'int', feature: SEGMENTS, src: { kind: 'gsbase' } });
  for (const n of [0, 2, 3, 4]) regs.push({ name: `cr${n}`, bits: 64, type: 'int', group: 'system', feature: SYSTEM, src: { kind: 'cr', n } });
  for (const n of [0, 1, 2, 3, 6, 7]) regs.push({ name: `dr${n}`, bits: 64, type: n < 4 ? 'data_ptr' : 'int', group: 'system', feature: SYSTEM, src: { kind: 'dr', n } });
  return { regs, fpSize: fp };
}

export const { regs: REGISTERS, fpSize: FP_STATE_SIZE } = buildRegs();
export const REGISTER_SIZES: readonly number[] = REGISTERS.map((r) => r.bits / 8);
export const REG_RIP = REGISTERS.findIndex((r) => r.name === 'rip');
export const REG_RSP = REGISTERS.findIndex((r) => r.name === 'rsp');
export const REG_RBP = REGISTERS.findIndex((r) => r.name === 'rbp');
export const G_BLOCK_SIZE = REGISTER_SIZES.reduce((a, b) => a + b, 0);
const OFFSETS: number[] = [];
{
  let o = 0;
  for (const s of REGISTER_SIZES) {
    OFFSETS.push(o);
    o += s;
  }
}

/** The initial contents of a CPU's x87/SSE shadow (FNINIT / reset values). */
export function resetFpState(): Uint8Array {
  const b = new Uint8Array(FP_STATE_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(80, 0x37f, true); // fctrl after FNINIT
  dv.setUint32(80 + 8, 0xffff, true); // ftag: all empty (gdb shows the full tag word)
  dv.setUint32(FP_STATE_SIZE - 4, 0x1f80, true); // mxcsr reset value
  return b;
}

const EFLAGS_FIELDS: Array<[string, number]> = [
  ['CF', 0], ['', 1], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9], ['DF', 10], ['OF', 11],
  ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21],
];

export function targetXml(): string {
  const out: string[] = [
    '<?xml version="1.0"?>',
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
    '<target version="1.0">',
    '  <architecture>i386:x86-64</architecture>',
  ];
  let feature = '';
  REGISTERS.forEach((r, regnum) => {
    if (r.feature !== feature) {
      if (feature) out.push('  </feature>');
      feature = r.feature;
      out.push(`  <feature name="${feature}">`);
      if (feature === CORE) {
        out.push('    <flags id="i386_eflags" size="4">');
        for (const [name, bit] of EFLAGS_FIELDS) out.push(`      <field name="${name}" start="${bit}" end="${bit}"/>`);
        out.push('    </flags>');
      }
      if (feature === SSE) {
        out.push(
          '    <vector id="v8bf16" type="bfloat16" count="8"/>',
          '    <vector id="v4f" type="ieee_single" count="4"/>',
          '    <vector id="v2d" type="ieee_double" count="2"/>',
          '    <vector id="v16i8" type="int8" count="16"/>',
          '    <vector id="v8i16" type="int16" count="8"/>',
          '    <vector id="v4i32" type="int32" count="4"/>',
          '    <vector id="v2i64" type="int64" count="2"/>',
          '    <union id="vec128">',
          '      <field name="v8_bfloat16" type="v8bf16"/>',
          '      <field name="v4_float" type="v4f"/>',
          '      <field name="v2_double" type="v2d"/>',
          '      <field name="v16_int8" type="v16i8"/>',
          '      <field name="v8_int16" type="v8i16"/>',
          '      <field name="v4_int32" type="v4i32"/>',
          '      <field name="v2_int64" type="v2i64"/>',
          '      <field name="uint128" type="uint128"/>',
          '    </union>',
          '    <flags id="i386_mxcsr" size="4">',
          ...['IE', 'DE', 'ZE', 'OE', 'UE', 'PE', 'DAZ', 'IM', 'DM', 'ZM', 'OM', 'UM', 'PM', 'FZ'].map(
            (n, i) => `      <field name="${n}" start="${i}" end="${i}"/>`,
          ),
          '    </flags>',
        );
      }
    }
    const group = r.group ? ` group="${r.group}"` : '';
    out.push(`    <reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${regnum}"${group}/>`);
  });
  out.push('  </feature>', '</target>', '');
  return out.join('\n');
}

/** Little-endian bytes of one register of a CPU. */
export function readCpuReg(
  cpu: Cpu, fp: Uint8Array, regno: number, out: Uint8Array, at: number,
  dv: DataView = new DataView(out.buffer, out.byteOffset, out.byteLength),
): void {
  // `g` reads every register: callers pass one DataView over `out` for all of them.
  const r = REGISTERS[regno];
  const src = r.src;
  switch (src.kind) {
    case 'gpr':
      dv.setInt32(at, cpu.r[2 * src.n], true);
      dv.setInt32(at + 4, cpu.r[2 * src.n + 1], true);
      return;
    case 'rip':
      return put64(dv, at, cpu.rip);
    case 'eflags':
      dv.setUint32(at, cpu.flags.read() >>> 0, true);
      return;
    case 'seg':
      dv.setUint32(at, src.value, true);
      return;
    case 'fsbase':
      return put64(dv, at, cpu.fsBase);
    case 'gsbase':
      return put64(dv, at, cpu.gsBase);
    case 'cr':
      return put64(dv, at, src.n === 0 ? cpu.cr0 : src.n === 2 ? cpu.cr2 : src.n === 3 ? cpu.cr3 : cpu.cr4);
    case 'dr':
      return put64(dv, at, src.n < 4 ? cpu.dr[src.n] : src.n === 6 ? cpu.dr6 : cpu.dr7);
    case 'fp':
      out.set(fp.subarray(src.offset, src.offset + r.bits / 8), at);
      return;
  }
}

const FIRST_FP = REGISTERS.findIndex((r) => r.src.kind === 'fp');

/**
 * Every register into `out` (G_BLOCK_SIZE bytes), as `g` returns them. The
 * x87/SSE registers are one contiguous run in both the g block and the
 * per-CPU FP state (same order), so they are copied at once.
 */
export function readCpuRegs(cpu: Cpu, fp: Uint8Array, out: Uint8Array): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < REGISTERS.length; i++) {
    if (REGISTERS[i].src.kind !== 'fp') readCpuReg(cpu, fp, i, out, OFFSETS[i], dv);
  }
  out.set(fp.subarray(0, FP_STATE_SIZE), OFFSETS[FIRST_FP]);
}

/** A signed canonical 64-bit value (a JS number) as 8 little-endian bytes. */
function put64(dv: DataView, at: number, v: number): void {
  dv.setInt32(at, v | 0, true);
  dv.setInt32(at + 4, Math.floor(v / 4294967296) | 0, true);
}

/** Is this a canonical address (fits the signed 48-bit range)? */
function canonical(v: number): boolean {
  return v >= -0x800000000000 && v < 0x800000000000;
}

/**
 * Write one register of a CPU from little-endian bytes. Returns false (and
 * changes nothing) when the value is not acceptable for that register
 * (non-canonical rip or base, segment selectors other than their fixed value).
 */
export function writeCpuReg(cpu: Cpu, fp: Uint8Array, regno: number, data: Uint8Array, at: number, dryRun = false): boolean {
  const r = REGISTERS[regno];
  const dv = new DataView(data.buffer, data.byteOffset);
  const lo = dv.getInt32(at, true);
  const hi = r.bits >= 64 ? dv.getInt32(at + 4, true) : 0;
  const asAddr = join64(lo, hi);
  const src = r.src;
  switch (src.kind) {
    case 'gpr':
      if (!dryRun) {
        cpu.r[2 * src.n] = lo;
        cpu.r[2 * src.n + 1] = hi;
      }
      return true;
    case 'rip':
      if (!canonical(asAddr)) return false;
      if (!dryRun) cpu.rip = asAddr;
      return true;
    case 'eflags':
      if (!dryRun) cpu.flags.write(((lo & 0x3f7fd5) | 0x2) >>> 0);
      return true;
    case 'seg':
      return (lo >>> 0) === src.value;
    case 'fsbase':
    case 'gsbase':
      if (!canonical(asAddr)) return false;
      if (!dryRun) {
        if (src.kind === 'fsbase') cpu.fsBase = asAddr;
        else cpu.gsBase = asAddr;
      }
      return true;
    case 'cr':
      if (!dryRun) {
        if (src.n === 0) cpu.cr0 = asAddr;
        else if (src.n === 2) cpu.cr2 = asAddr;
        else if (src.n === 3) cpu.cr3 = asAddr;
        else cpu.cr4 = asAddr;
      }
      return true;
    case 'dr':
      // The debug registers belong to the debugger's breakpoint machinery (Z1-Z4); gdb may read them only.
      return (src.n < 4 ? cpu.dr[src.n] : src.n === 6 ? cpu.dr6 : cpu.dr7) === asAddr;
    case 'fp':
      if (!dryRun) fp.set(data.subarray(at, at + r.bits / 8), src.offset);
      return true;
  }
}

export function registerOffset(regno: number): number {
  return OFFSETS[regno];
}
