import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/rsp/commands/index.js';
import type { ParseResult } from '../../src/rsp/commands/types.js';
import { EINVAL } from '../../src/rsp/target.js';

const ctx = { maxPacket: 0x20000 };
const parse = (s: string | Buffer, c = ctx): ParseResult => parseCommand(typeof s === 'string' ? Buffer.from(s, 'latin1') : s, c);
const err = { type: 'error', errno: EINVAL };

function expectError(s: string | Buffer, c = ctx): void {
  const r = parse(s, c);
  expect(r, typeof s === 'string' ? s : s.toString('latin1')).toMatchObject(err);
}

describe('simple packets', () => {
  it.each([
    ['?', { type: 'haltReason' }],
    ['g', { type: 'readRegisters' }],
    ['k', { type: 'kill' }],
    ['D', { type: 'detach' }],
    ['D;1', { type: 'detach' }],
    ['vCont?', { type: 'vContQuery' }],
    ['vMustReplyEmpty', { type: 'mustReplyEmpty' }],
    ['qTStatus', { type: 'traceStatus' }],
    ['qC', { type: 'currentThread' }],
    ['qfThreadInfo', { type: 'threadInfoFirst' }],
    ['qsThreadInfo', { type: 'threadInfoNext' }],
    ['qAttached', { type: 'attached' }],
    ['qAttached:1', { type: 'attached' }],
    ['qSymbol::', { type: 'symbol' }],
    ['QStartNoAckMode', { type: 'startNoAck' }],
    ['qOffsets', { type: 'unknown' }],
    ['vFile:open:x', { type: 'unknown' }],
    ['qXfer:threads:read::0,100', { type: 'unknown' }],
    ['!', { type: 'unknown' }],
    ['', { type: 'unknown' }],
    ['QNonStop:1', { type: 'unknown' }],
  ])('%s', (s, want) => expect(parse(s)).toEqual(want));

  it.each(['?x', 'gx', 'kk', 'D;', 'D;zz', 'Dx'])('rejects %s', (s) => expectError(s));
});

describe('registers', () => {
  it('G/p/P', () => {
    expect(parse('G0011aaFF')).toEqual({ type: 'writeRegisters', data: new Uint8Array([0, 0x11, 0xaa, 0xff]) });
    expect(parse('p10')).toEqual({ type: 'readRegister', regno: 16 });
    expect(parse('P7=0102')).toEqual({ type: 'writeRegister', regno: 7, data: new Uint8Array([1, 2]) });
  });
  it.each(['G', 'G0', 'G0g', 'p', 'px', 'p-1', 'p10000', 'P', 'P7', 'P7=', 'P=00', 'P7=0', 'P7=zz', 'Pq=00'])(
    'rejects %s',
    (s) => expectError(s),
  );
});

describe('memory', () => {
  it('m', () => {
    expect(parse('mffffffff81000000,40')).toEqual({ type: 'readMemory', addr: 0xffffffff81000000n, length: 0x40 });
    expect(parse('m0,0')).toEqual({ type: 'readMemory', addr: 0n, length: 0 });
    // the last byte of the address space is fine; one more wraps
    expect(parse('mffffffffffffffff,1')).toEqual({ type: 'readMemory', addr: 0xffffffffffffffffn, length: 1 });
    expect(parse('mffffffffffffffff,0')).toMatchObject({ type: 'readMemory', length: 0 });
    expect(parse('m1000,10000', { maxPacket: 0x20000 })).toMatchObject({ type: 'readMemory', length: 0x10000 });
  });
  it.each([
    'm',
    'm1000',
    'm1000,',
    'm,4',
    'mxyz,4',
    'm1000,-4',
    'm-1000,4',
    'm1000,4x',
    'm10000000000000000,1', // 65-bit address
    'mffffffffffffffff,2', // wraps
    'm8000000000000000,8000000000000001',
    'm1000,10001', // reply would exceed the packet size
    'm1000,ffffffffffffffffff',
  ])('rejects %s', (s) => expectError(s));

  it('M / X', () => {
    expect(parse('M1000,2:abCD')).toEqual({ type: 'writeMemory', addr: 0x1000n, data: new Uint8Array([0xab, 0xcd]), binary: false });
    expect(parse('M1000,0:')).toMatchObject({ type: 'writeMemory', addr: 0x1000n, binary: false, data: { length: 0 } });
    const x = parse(Buffer.from([...Buffer.from('X1000,3:'), 0x23, 0x3a, 0x00]));
    expect(x).toMatchObject({ type: 'writeMemory', addr: 0x1000n, binary: true });
    expect(Buffer.from((x as { data: Uint8Array }).data)).toEqual(Buffer.from([0x23, 0x3a, 0]));
    expect(parse('X1000,0:')).toMatchObject({ type: 'writeMemory', binary: true, data: { length: 0 } });
  });
  it.each([
    'M1000,2',
    'M1000,2:ab', // data shorter than length
    'M1000,1:abcd', // data longer than length
    'M1000,2:abc',
    'M1000,2:zzzz',
    'M1000:ab',
    'Mffffffffffffffff,2:abcd',
    'M1000,-1:',
    'X1000,2:a',
    'X1000,1:ab',
    'X1000,1',
    'Xffffffffffffffff,2:ab',
    'X1000,30000:',
    'M1000,0', // missing ':'
  ])('rejects %s', (s) => expectError(s));
});

describe('run control', () => {
  it('legacy', () => {
    expect(parse('c')).toEqual({ type: 'legacyResume', step: false });
    expect(parse('s')).toEqual({ type: 'legacyResume', step: true });
    expect(parse('cffffffff81000000')).toEqual({ type: 'legacyResume', step: false, addr: 0xffffffff81000000n });
    expect(parse('C05')).toEqual({ type: 'legacyResume', step: false, signal: 5 });
    expect(parse('S02;1000')).toEqual({ type: 'legacyResume', step: true, signal: 2, addr: 0x1000n });
  });
  it.each(['cxyz', 'C', 'Cxx', 'C123', 'C05;', 'C05;zz', 's-1', 'c10000000000000000'])('rejects %s', (s) => expectError(s));

  it('vCont', () => {
    expect(parse('vCont;c')).toEqual({ type: 'vCont', actions: [{ kind: 'continue', thread: -1 }] });
    expect(parse('vCont;s:1f;c')).toEqual({
      type: 'vCont',
      actions: [
        { kind: 'step', thread: 0x1f },
        { kind: 'continue', thread: -1 },
      ],
    });
    expect(parse('vCont;S05:2;C02:-1')).toEqual({
      type: 'vCont',
      actions: [
        { kind: 'step', signal: 5, thread: 2 },
        { kind: 'continue', signal: 2, thread: -1 },
      ],
    });
    expect(parse('vCont;s:1')).toEqual({ type: 'vCont', actions: [{ kind: 'step', thread: 1 }] });
  });
  it.each([
    'vCont',
    'vCont;',
    'vCont;x',
    'vCont;r1000,2000:1',
    'vCont;t',
    'vCont;c;c',
    'vCont;c;s:-1',
    'vCont;s:p1.1',
    'vCont;s:',
    'vCont;s:zz',
    'vCont;s:0',
    'vCont;cc',
    'vCont;C',
    'vCont;Cxyz',
    'vCont;c;;s:1',
  ])('rejects %s', (s) => expectError(s));
});

describe('threads', () => {
  it('H / T / qThreadExtraInfo', () => {
    expect(parse('Hg1f')).toEqual({ type: 'setThread', op: 'g', thread: 0x1f });
    expect(parse('Hc-1')).toEqual({ type: 'setThread', op: 'c', thread: -1 });
    expect(parse('Hg0')).toEqual({ type: 'setThread', op: 'g', thread: 0 });
    expect(parse('Hgfffffffe')).toEqual({ type: 'setThread', op: 'g', thread: 0xfffffffe });
    expect(parse('T2')).toEqual({ type: 'threadAlive', thread: 2 });
    // gdb writes ids ≥ 2^31 through an int: "-2" is the thread it was told is fffffffe
    expect(parse('Hg-2')).toEqual({ type: 'setThread', op: 'g', thread: 0xfffffffe });
    expect(parse('qThreadExtraInfo,-2')).toEqual({ type: 'threadExtraInfo', thread: 0xfffffffe });
    expect(parse('T-80000000')).toEqual({ type: 'threadAlive', thread: 0x80000000 });
    expect(parse('qThreadExtraInfo,1f')).toEqual({ type: 'threadExtraInfo', thread: 0x1f });
  });
  it.each(['H', 'Hg', 'Hx1', 'Hs1', 'Hgp1.1', 'Hg-0', 'Hg--2', 'Hg-80000001', 'Hg-', 'Hgzz', 'T', 'T-1', 'Tzz', 'qThreadExtraInfo,', 'qThreadExtraInfo,x', 'Hg20000000000000'])(
    'rejects %s',
    (s) => expectError(s),
  );
});

describe('queries', () => {
  it('qSupported', () => {
    const r = parse('qSupported:multiprocess+;swbreak+;hwbreak-;qRelocInsn+;xmlRegisters=i386;fork-events?');
    expect(r.type).toBe('supported');
    const f = (r as unknown as { features: Map<string, string> }).features;
    expect(Object.fromEntries(f)).toEqual({
      multiprocess: '+',
      swbreak: '+',
      hwbreak: '-',
      qRelocInsn: '+',
      xmlRegisters: 'i386',
      'fork-events': '?',
    });
    expect(parse('qSupported')).toMatchObject({ type: 'supported' });
  });
  it('qXfer / qRcmd', () => {
    expect(parse('qXfer:features:read:target.xml:0,ffb')).toEqual({ type: 'xferFeatures', annex: 'target.xml', offset: 0, length: 0xffb });
    expect(parse('qRcmd,68656c70')).toEqual({ type: 'monitor', command: 'help' });
    expect(parse('qRcmd,')).toEqual({ type: 'monitor', command: '' });
  });
  it.each([
    'qXfer:features:read:target.xml',
    'qXfer:features:read:target.xml:0',
    'qXfer:features:read:target.xml:x,10',
    'qXfer:features:read:target.xml:0,-1',
    'qXfer:features:read:target.xml:0,100000000',
    'qRcmd,6',
    'qRcmd,zz',
  ])('rejects %s', (s) => expectError(s));
});

describe('breakpoints', () => {
  it('Z/z', () => {
    expect(parse('Z0,ffffffff81000000,1')).toEqual({ type: 'breakpoint', insert: true, kind: 'sw', addr: 0xffffffff81000000n, length: 1 });
    expect(parse('z1,1000,1')).toEqual({ type: 'breakpoint', insert: false, kind: 'hw', addr: 0x1000n, length: 1 });
    expect(parse('Z2,1000,8')).toMatchObject({ kind: 'write', length: 8 });
    expect(parse('Z3,1000,4')).toMatchObject({ kind: 'read' });
    expect(parse('Z4,1000,2')).toMatchObject({ kind: 'access' });
    expect(parse('Z5,1000,1')).toEqual({ type: 'unknown' });
    expect(parse('Zx,1000,1')).toEqual({ type: 'unknown' });
  });
  it.each([
    'Z0',
    'Z0,',
    'Z0,1000',
    'Z0,1000,',
    'Z0,zz,1',
    'Z0,1000,1;X1,0',
    'Z0,1000,1,2',
    'Z2,ffffffffffffffff,8',
    'Z0,10000000000000000,1',
    'z0,-1,1',
    'Z0,1000,10000',
  ])('rejects %s', (s) => expectError(s));
});
