// Renders the generated part of docs/isa.md from the opcode table.
import { FORMS, MNEMONICS, formLine } from '../../src/target/x86/opcodes.js';

export const BEGIN = '<!-- forms:begin (generated from src/target/x86/opcodes.ts by test/isa/doc.test.ts; UPDATE_ISA_DOC=1 to rewrite) -->';
export const END = '<!-- forms:end -->';

export function renderForms(): string {
  const lines = [
    BEGIN,
    '',
    `${FORMS.length} forms, ${MNEMONICS.length} mnemonics: ${MNEMONICS.map((m) => '`' + m + '`').join(' ')}`,
    '',
    '| formId | mnemonic | operands (Intel order) | encoding | size |',
    '|---:|---|---|---|---|',
    ...FORMS.map(formLine),
    '',
    END,
  ];
  return lines.join('\n');
}
