// ELF64 x86-64 writer for the kernel image: the symbol file gdb loads
// (`gdb vmlinux`), laid out the way a linked vmlinux is: an ET_EXEC with one
// PT_LOAD per section at its virtual address, section headers for the
// loaded sections plus .symtab/.strtab/.shstrtab, and GLOBAL FUNC/OBJECT
// symbols with sizes (so gdb knows where each function ends).

import type { Image } from './link.js';
import { PAGE_SIZE } from './link.js';

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;

const ET_EXEC = 2;
const EM_X86_64 = 62;
const PT_LOAD = 1;
const PF_X = 1, PF_W = 2, PF_R = 4;
const SHT_PROGBITS = 1, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_NOBITS = 8;
const SHF_WRITE = 1, SHF_ALLOC = 2, SHF_EXECINSTR = 4;
const STB_GLOBAL = 1;
const STT_NOTYPE = 0, STT_OBJECT = 1, STT_FUNC = 2;

class StrTab {
  private readonly parts: Buffer[] = [Buffer.from([0])];
  private size = 1;
  private readonly seen = new Map<string, number>();
  add(s: string): number {
    const got = this.seen.get(s);
    if (got !== undefined) return got;
    const off = this.size;
    const b = Buffer.from(s + '\0', 'utf8');
    this.parts.push(b);
    this.size += b.length;
    this.seen.set(s, off);
    return off;
  }
  bytes(): Buffer { return Buffer.concat(this.parts); }
}

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

/** Serialise the image as an ELF64 executable (little-endian, System V ABI). */
export function writeElf(image: Image): Uint8Array {
  const secs = image.sections;
  const shstr = new StrTab();
  const str = new StrTab();

  // --- file layout: header, program headers, loaded sections (file offset ≡ vaddr mod page), tables
  const phoff = EHDR_SIZE;
  let off = phoff + secs.length * PHDR_SIZE;
  const secOff: number[] = [];
  for (const s of secs) {
    off = alignUp(off, PAGE_SIZE);
    secOff.push(off);
    off += s.bytes.length; // .bss occupies no file space
  }
  const isNobits = (i: number): boolean => secs[i].bytes.length === 0 && secs[i].size > 0;

  // --- symbols (index 0 is the null symbol; every real symbol is GLOBAL)
  const secIndex = new Map(secs.map((s, i) => [s.name, i + 1]));
  const symtab = Buffer.alloc(SYM_SIZE * (image.symbols.length + 1));
  image.symbols.forEach((s, i) => {
    const o = SYM_SIZE * (i + 1);
    const type = s.kind === 'func' ? STT_FUNC : s.kind === 'object' ? STT_OBJECT : STT_NOTYPE;
    symtab.writeUInt32LE(str.add(s.name), o);
    symtab.writeUInt8((STB_GLOBAL << 4) | type, o + 4);
    symtab.writeUInt8(0, o + 5); // STV_DEFAULT
    symtab.writeUInt16LE(secIndex.get(s.section) ?? 0xfff1 /* SHN_ABS */, o + 6);
    symtab.writeBigUInt64LE(BigInt.asUintN(64, s.addr), o + 8);
    symtab.writeBigUInt64LE(BigInt(s.size), o + 16);
  });
  const strtab = str.bytes();

  // section name strings
  const secNames = secs.map((s) => shstr.add(s.name));
  const nSymtab = shstr.add('.symtab');
  const nStrtab = shstr.add('.strtab');
  const nShstrtab = shstr.add('.shstrtab');
  const shstrtab = shstr.bytes();

  off = alignUp(off, 8);
  const symOff = off;
  off += symtab.length;
  const strOff = off;
  off += strtab.length;
  const shstrOff = off;
  off += shstrtab.length;
  off = alignUp(off, 8);
  const shoff = off;
  const shnum = secs.length + 4; // null + sections + symtab, strtab, shstrtab
  const symtabIdx = secs.length + 1;
  const strtabIdx = secs.length + 2;
  const shstrIdx = secs.length + 3;
  const total = shoff + shnum * SHDR_SIZE;

  const buf = Buffer.alloc(total);

  // --- ELF header
  buf.set([0x7f, 0x45, 0x4c, 0x46, 2 /* ELFCLASS64 */, 1 /* ELFDATA2LSB */, 1 /* EV_CURRENT */, 0 /* SYSV */], 0);
  buf.writeUInt16LE(ET_EXEC, 16);
  buf.writeUInt16LE(EM_X86_64, 18);
  buf.writeUInt32LE(1, 20);
  buf.writeBigUInt64LE(BigInt.asUintN(64, image.entry), 24);
  buf.writeBigUInt64LE(BigInt(phoff), 32);
  buf.writeBigUInt64LE(BigInt(shoff), 40);
  buf.writeUInt32LE(0, 48);
  buf.writeUInt16LE(EHDR_SIZE, 52);
  buf.writeUInt16LE(PHDR_SIZE, 54);
  buf.writeUInt16LE(secs.length, 56);
  buf.writeUInt16LE(SHDR_SIZE, 58);
  buf.writeUInt16LE(shnum, 60);
  buf.writeUInt16LE(shstrIdx, 62);

  // --- program headers and section contents
  secs.forEach((s, i) => {
    const o = phoff + i * PHDR_SIZE;
    const flags = s.perms === 'rx' ? PF_R | PF_X : PF_R | PF_W;
    buf.writeUInt32LE(PT_LOAD, o);
    buf.writeUInt32LE(flags, o + 4);
    buf.writeBigUInt64LE(BigInt(secOff[i]), o + 8);
    buf.writeBigUInt64LE(BigInt.asUintN(64, s.addr), o + 16); // p_vaddr
    buf.writeBigUInt64LE(BigInt.asUintN(64, s.addr), o + 24); // p_paddr
    buf.writeBigUInt64LE(BigInt(s.bytes.length), o + 32); // p_filesz
    buf.writeBigUInt64LE(BigInt(s.size), o + 40); // p_memsz
    buf.writeBigUInt64LE(BigInt(PAGE_SIZE), o + 48);
    buf.set(s.bytes, secOff[i]);
  });
  buf.set(symtab, symOff);
  buf.set(strtab, strOff);
  buf.set(shstrtab, shstrOff);

  // --- section headers
  const sh = (idx: number, name: number, type: number, flags: number, addr: bigint, offset: number, size: number,
    link: number, info: number, align: number, entsize: number): void => {
    const o = shoff + idx * SHDR_SIZE;
    buf.writeUInt32LE(name, o);
    buf.writeUInt32LE(type, o + 4);
    buf.writeBigUInt64LE(BigInt(flags), o + 8);
    buf.writeBigUInt64LE(BigInt.asUintN(64, addr), o + 16);
    buf.writeBigUInt64LE(BigInt(offset), o + 24);
    buf.writeBigUInt64LE(BigInt(size), o + 32);
    buf.writeUInt32LE(link, o + 40);
    buf.writeUInt32LE(info, o + 44);
    buf.writeBigUInt64LE(BigInt(align), o + 48);
    buf.writeBigUInt64LE(BigInt(entsize), o + 56);
  };
  secs.forEach((s, i) => {
    const flags = SHF_ALLOC | (s.perms === 'rx' ? SHF_EXECINSTR : SHF_WRITE);
    sh(i + 1, secNames[i], isNobits(i) ? SHT_NOBITS : SHT_PROGBITS, flags, s.addr, secOff[i], s.size, 0, 0, PAGE_SIZE, 0);
  });
  sh(symtabIdx, nSymtab, SHT_SYMTAB, 0, 0n, symOff, symtab.length, strtabIdx, 1 /* first non-local */, 8, SYM_SIZE);
  sh(strtabIdx, nStrtab, SHT_STRTAB, 0, 0n, strOff, strtab.length, 0, 0, 1, 0);
  sh(shstrIdx, nShstrtab, SHT_STRTAB, 0, 0n, shstrOff, shstrtab.length, 0, 0, 1, 0);

  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
