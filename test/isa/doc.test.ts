// docs/isa.md lists every form of the opcode table (its table is generated).
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FORMS, formLine } from '../../src/target/x86/opcodes.js';
import { BEGIN, END, renderForms } from './isa-doc.js';

const DOC = fileURLToPath(new URL('../../docs/isa.md', import.meta.url));

describe('docs/isa.md', () => {
  it('contains the generated table of every form, up to date', () => {
    let doc = readFileSync(DOC, 'utf8');
    const a = doc.indexOf(BEGIN);
    let b = doc.indexOf(END);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(b).toBeGreaterThan(a);
    const fresh = renderForms();
    if (process.env.UPDATE_ISA_DOC === '1') {
      doc = doc.slice(0, a) + fresh + doc.slice(b + END.length);
      writeFileSync(DOC, doc);
      b = doc.indexOf(END);
    }
    expect(doc.slice(a, b + END.length)).toBe(fresh);
    for (const f of FORMS) expect(doc).toContain(formLine(f));
  });
});
