// The kernel linker: lays the assembler's sections out at their virtual
// addresses (.text at 0xffffffff81000000 like Linux, then .data and .bss,
// each page aligned), resolves the relocations that crossed sections, and
// produces the Image the machine loads and the ELF writer turns into the
// symbol file gdb reads.

import type { AsmOutput } from './asm.js';

/** Where the kernel text starts, as on x86-64 Linux (__START_KERNEL_map + 16 MiB). */
export const KERNEL_TEXT_BASE = 0xffffffff81000000n;
export const PAGE_SIZE = 4096;

export type SectionPerms = 'rx' | 'rw';
export type SymbolKind = 'func' | 'object' | 'label';

export interface ImageSection {
  name: string;
  /** Virtual address of the first byte. */
  addr: bigint;
  /** Initialised contents (zero-length for .bss: the machine zero-fills `size` bytes). */
  bytes: Uint8Array;
  size: number;
  perms: SectionPerms;
}

export interface ImageSymbol {
  name: string;
  addr: bigint;
  size: number;
  kind: SymbolKind;
  /** Name of the section that holds it. */
  section: string;
}

export interface Image {
  sections: ImageSection[];
  /** Sorted by address (then by name), global symbols only. */
  symbols: ImageSymbol[];
  /** Address of `startup_64`, where every CPU starts. */
  entry: bigint;
}

/** One section handed to the linker. */
export interface LinkInput {
  name: string;
  perms: SectionPerms;
  out: AsmOutput;
  /** .bss: no file contents, only a size (the assembler's zero bytes are dropped). */
  nobits?: boolean;
  /** Place the section here (page aligned, not below the previous section) instead of right after it. */
  addr?: bigint;
}

export class LinkError extends Error {}

function alignUp(v: bigint, a: number): bigint {
  const A = BigInt(a);
  return ((v + A - 1n) / A) * A;
}

/**
 * Lay out the sections in order, page aligned, starting at `base`; resolve
 * every relocation: rel32 = S + A - P (must fit a signed 32-bit field),
 * abs64 = S + A, abs32s = S + A as a sign-extended 32-bit value.
 */
export function link(inputs: LinkInput[], opts: { base?: bigint; entry?: string } = {}): Image {
  const base = opts.base ?? KERNEL_TEXT_BASE;
  const entryName = opts.entry ?? 'startup_64';
  const sections: ImageSection[] = [];
  const symbols: ImageSymbol[] = [];
  const byName = new Map<string, ImageSymbol>();
  let addr = base;
  const placed: { input: LinkInput; sec: ImageSection }[] = [];
  for (const input of inputs) {
    addr = alignUp(addr, PAGE_SIZE);
    if (input.addr !== undefined) {
      if (input.addr < addr || input.addr % BigInt(PAGE_SIZE) !== 0n)
        throw new LinkError(`${input.name}: cannot be placed at 0x${input.addr.toString(16)}`);
      addr = input.addr;
    }
    const size = input.out.bytes.length;
    if (input.nobits) {
      if (input.out.relocs.length > 0) throw new LinkError(`${input.name}: relocations in a NOBITS section`);
      if (input.out.bytes.some((b) => b !== 0)) throw new LinkError(`${input.name}: non-zero bytes in a NOBITS section`);
    }
    const sec: ImageSection = {
      name: input.name,
      addr,
      bytes: input.nobits ? new Uint8Array(0) : Uint8Array.from(input.out.bytes),
      size,
      perms: input.perms,
    };
    sections.push(sec);
    placed.push({ input, sec });
    for (const s of input.out.symbols) {
      if (s.name.startsWith('.')) continue; // assembler-local labels never leave their section
      if (byName.has(s.name)) throw new LinkError(`symbol '${s.name}' defined in more than one section`);
      const sym: ImageSymbol = { name: s.name, addr: addr + BigInt(s.offset), size: s.size, kind: s.kind, section: input.name };
      byName.set(s.name, sym);
      symbols.push(sym);
    }
    addr += BigInt(size);
  }

  for (const { input, sec } of placed) {
    if (input.out.relocs.length === 0) continue;
    const dv = new DataView(sec.bytes.buffer, sec.bytes.byteOffset, sec.bytes.byteLength);
    for (const r of input.out.relocs) {
      const target = byName.get(r.sym);
      if (!target) throw new LinkError(`undefined symbol '${r.sym}' referenced from ${input.name}+0x${r.offset.toString(16)}`);
      const S = target.addr;
      const A = BigInt(r.addend);
      const P = sec.addr + BigInt(r.offset);
      switch (r.kind) {
        case 'rel32': {
          const v = S + A - P;
          if (v < -0x80000000n || v > 0x7fffffffn)
            throw new LinkError(`rel32 to '${r.sym}' out of range at ${input.name}+0x${r.offset.toString(16)}`);
          dv.setInt32(r.offset, Number(v), true);
          break;
        }
        case 'abs64':
          dv.setBigUint64(r.offset, BigInt.asUintN(64, S + A), true);
          break;
        case 'abs32s': {
          const v = BigInt.asIntN(64, S + A);
          if (v < -0x80000000n || v > 0x7fffffffn)
            throw new LinkError(`abs32s value of '${r.sym}' does not sign-extend from 32 bits at ${input.name}+0x${r.offset.toString(16)}`);
          dv.setInt32(r.offset, Number(v), true);
          break;
        }
      }
    }
  }

  symbols.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const entry = byName.get(entryName);
  if (!entry) throw new LinkError(`entry symbol '${entryName}' is not defined`);
  return { sections, symbols, entry: entry.addr };
}

// ---------------------------------------------------------------- lookups

const lookupCache = new WeakMap<Image, Map<string, ImageSymbol>>();

/** The symbol called `name`, or undefined. */
export function findSymbol(image: Image, name: string): ImageSymbol | undefined {
  let m = lookupCache.get(image);
  if (!m) {
    m = new Map(image.symbols.map((s) => [s.name, s]));
    lookupCache.set(image, m);
  }
  return m.get(name);
}

/** Address of a symbol; throws if it does not exist. */
export function symbolAddr(image: Image, name: string): bigint {
  const s = findSymbol(image, name);
  if (!s) throw new LinkError(`no symbol '${name}' in the kernel image`);
  return s.addr;
}

/**
 * The symbol an address belongs to, as gdb's `info symbol` would name it:
 * the nearest sized FUNC/OBJECT at or below the address whose extent covers
 * it (a label only when no sized symbol covers the address).
 */
export function symbolize(image: Image, addr: bigint): { name: string; offset: number; symbol: ImageSymbol } | undefined {
  const syms = image.symbols;
  // binary search: last symbol with addr <= a
  let lo = 0, hi = syms.length - 1, at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (syms[mid].addr <= addr) { at = mid; lo = mid + 1; } else hi = mid - 1;
  }
  let label: ImageSymbol | undefined;
  for (let i = at; i >= 0; i--) {
    const s = syms[i];
    if (s.kind !== 'label' && addr < s.addr + BigInt(Math.max(s.size, 1))) return { name: s.name, offset: Number(addr - s.addr), symbol: s };
    if (s.kind === 'label' && !label) label = s;
    if (s.kind !== 'label') break; // the nearest sized symbol ends below addr: nothing covers it
  }
  if (label && addr - label.addr < 0x10000n) return { name: label.name, offset: Number(addr - label.addr), symbol: label };
  return undefined;
}

/** "name+0xoff" (or a hex address when nothing covers it), for logs and traces. */
export function formatAddr(image: Image, addr: bigint): string {
  const s = symbolize(image, addr);
  const a = BigInt.asUintN(64, addr);
  if (!s) return '0x' + a.toString(16);
  return s.offset === 0 ? s.name : `${s.name}+0x${s.offset.toString(16)}`;
}
