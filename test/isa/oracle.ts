// objdump as the independent decoder (oracle) for the encoding tests.
// One objdump run per blob: every instruction's offset -> { len, text }.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OracleInsn {
  len: number;
  text: string; // normalised AT&T text
  raw: string;
}

/** Throws (does not skip) when objdump is missing. */
export function objdumpVersion(): string {
  return execFileSync('objdump', ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
}

/** Normalise objdump / formatInstr text: drop "# comment", collapse blanks. */
export function normalise(s: string): string {
  const i = s.indexOf('#');
  if (i >= 0) s = s.slice(0, i);
  return s.trim().replace(/\s+/g, ' ');
}

export function objdump(bytes: Uint8Array): Map<number, OracleInsn> {
  const dir = mkdtempSync(join(tmpdir(), 'isa-'));
  try {
    const file = join(dir, 'blob.bin');
    writeFileSync(file, bytes);
    const out = execFileSync('objdump', ['-D', '-b', 'binary', '-m', 'i386:x86-64', '--insn-width=16', file], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    const m = new Map<number, OracleInsn>();
    for (const line of out.split('\n')) {
      const r = /^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(.*)$/.exec(line);
      if (!r) {
        const r2 = /^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*$/.exec(line); // "(bad)"-less byte-only lines
        if (r2) m.set(parseInt(r2[1]!, 16), { len: r2[2]!.split(' ').length, text: '', raw: line });
        continue;
      }
      m.set(parseInt(r[1]!, 16), { len: r[2]!.split(' ').length, text: normalise(r[3]!), raw: r[3]! });
    }
    return m;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
