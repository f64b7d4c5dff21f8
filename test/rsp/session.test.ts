import { describe, expect, it } from 'vitest';
import { Session, type SessionOptions } from '../../src/rsp/session.js';
import { FakeTarget, FakeTransport, decodeStream, frame, pkt, replies, tick, unescapeBinary, TARGET_XML } from './helpers.js';

function setup(opts: SessionOptions = {}, target = new FakeTarget()) {
  const tr = new FakeTransport();
  const logs: string[] = [];
  const session = new Session(tr, target, { log: (l) => logs.push(l), ...opts });
  /** Send packets (one chunk), return what the stub wrote. */
  const ask = (...payloads: string[]): string => {
    tr.feed(payloads.map(pkt).join(''));
    return tr.take();
  };
  return { tr, target, session, logs, ask };
}

describe('session: acks and framing', () => {
  it('acks a packet and sends ack + reply in one write', () => {
    const { tr, ask } = setup();
    tr.feed(pkt('qC'));
    expect(tr.writes.length).toBe(1);
    expect(tr.take()).toBe('+' + pkt('QC1'));
    // several packets in one chunk → still one write
    tr.feed(pkt('qC') + pkt('qAttached'));
    expect(tr.writes.length).toBe(1);
    expect(tr.take()).toBe('+' + pkt('QC1') + '+' + pkt('1'));
    expect(ask('vMustReplyEmpty')).toBe('+$#00');
  });

  it('nacks a bad checksum without dispatching, then handles the retransmission', () => {
    const { tr, target } = setup();
    tr.feed('$m1000,4#00');
    expect(tr.take()).toBe('-');
    expect(target.work).toEqual([]);
    tr.feed(pkt('m1000,4'));
    expect(replies(tr.take())).toEqual(['00000000']);
  });

  it("retransmits the last reply on gdb's '-'", () => {
    const { tr } = setup();
    tr.feed(pkt('qC'));
    const first = tr.take();
    tr.feed('-');
    expect('+' + tr.take()).toBe(first);
    tr.feed('+');
    expect(tr.take()).toBe('');
  });

  it('switches to no-ack mode after QStartNoAckMode (its OK is still acked)', () => {
    const { tr, ask, target } = setup();
    expect(ask('QStartNoAckMode')).toBe('+' + pkt('OK'));
    tr.feed('+'); // gdb acks the OK once
    expect(tr.take()).toBe('');
    expect(ask('qC')).toBe(pkt('QC1'));
    // bad checksum in no-ack mode: nobody would retransmit, so it is used as is
    tr.feed('$qC#00');
    expect(tr.take()).toBe(pkt('QC1'));
    // '-' is meaningless now
    tr.feed('-');
    expect(tr.take()).toBe('');
    expect(target.work.length).toBeGreaterThan(0);
  });

  it('answers an oversized packet with E (modern), still acking an intact frame', () => {
    const { tr } = setup({ maxPacket: 64 });
    tr.feed(pkt('M1000,40:' + '00'.repeat(0x40)));
    expect(tr.take()).toBe('+' + pkt('E22'));
    tr.feed('$' + 'x'.repeat(100) + '#00');
    expect(tr.take()).toBe('-');
  });

  it('accepts every packet up to the advertised PacketSize', () => {
    const { tr, ask, target } = setup();
    const sup = replies(ask('qSupported:swbreak+'))[0]!;
    const size = parseInt(/PacketSize=([0-9a-f]+)/.exec(sup)![1]!, 16);
    expect(size).toBeGreaterThanOrEqual(0x20000);
    target.mem = new Uint8Array(0x20000);
    const n = (size - 'X1000,ffff:'.length) >> 1; // binary X with every byte escaped
    const data = Buffer.alloc(n, 0x7d);
    const payload = Buffer.concat([Buffer.from(`X1000,${n.toString(16)}:`), data]);
    const framed = frame(payload, true);
    expect(framed.length - 4).toBeLessThanOrEqual(size);
    // delivered in awkward chunks
    for (let i = 0; i < framed.length; i += 1000) tr.feed(framed.subarray(i, i + 1000));
    expect(replies(tr.take())).toEqual(['OK']);
    expect(target.mem[n - 1]).toBe(0x7d);
  });
});

describe('session: queries', () => {
  it('qSupported is derived from the target and records gdb features', () => {
    const { ask, target } = setup();
    expect(replies(ask('qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+'))).toEqual([
      'PacketSize=20000;QStartNoAckMode+;qXfer:features:read+;swbreak+;hwbreak+;vContSupported+',
    ]);
    expect(target.calls.filter((c) => c[0] === 'negotiated')).toEqual([
      ['negotiated', { swbreak: false, hwbreak: false }],
      ['negotiated', { swbreak: true, hwbreak: true }],
    ]);
    target.hwSupported = false;
    target.features = new Map();
    expect(replies(ask('qSupported'))).toEqual(['PacketSize=20000;QStartNoAckMode+;swbreak+;vContSupported+']);
  });

  it('thread listing: all ids in as few packets as fit, then l', () => {
    const { ask, target } = setup();
    expect(replies(ask('qfThreadInfo', 'qsThreadInfo'))).toEqual(['m1,2,1f', 'l']);
    target.threadList = Array.from({ length: 300 }, (_, i) => ({ id: i + 1, extra: '' }));
    const small = setup({ maxPacket: 64 }, target);
    const got: number[] = [];
    let r = replies(small.ask('qfThreadInfo'))[0]!;
    let packets = 0;
    while (r !== 'l') {
      expect(r[0]).toBe('m');
      expect(r.length).toBeLessThanOrEqual(64);
      got.push(...r.slice(1).split(',').map((x) => parseInt(x, 16)));
      r = replies(small.ask('qsThreadInfo'))[0]!;
      packets++;
    }
    expect(got).toEqual(target.threadList.map((t) => t.id));
    expect(packets).toBeLessThan(30);
  });

  it('qC, T, qThreadExtraInfo, qAttached, qSymbol, qTStatus, unknown', () => {
    const { ask } = setup();
    expect(replies(ask('qC', 'T1f', 'T9', 'qThreadExtraInfo,2', 'qThreadExtraInfo,9'))).toEqual([
      'QC1',
      'OK',
      'E22',
      Buffer.from('kworker pid 2 sleeping').toString('hex'),
      'E22',
    ]);
    expect(replies(ask('qAttached', 'qSymbol::', 'qTStatus', 'qOffsets', 'vFile:setfs:0', 'vMustReplyEmpty'))).toEqual([
      '1',
      'OK',
      '',
      '',
      '',
      '',
    ]);
  });

  it('qXfer:features:read in pieces, m…l', () => {
    const { ask } = setup();
    let off = 0;
    let xml = '';
    for (;;) {
      const raw = decodeStream(ask(`qXfer:features:read:target.xml:${off.toString(16)},20`)).packets[0]!;
      const body = unescapeBinary(raw);
      xml += body.subarray(1).toString();
      off += body.length - 1;
      if (body[0] === 0x6c) break;
      expect(body[0]).toBe(0x6d);
    }
    expect(xml).toBe(TARGET_XML);
    expect(replies(ask(`qXfer:features:read:target.xml:${TARGET_XML.length.toString(16)},100`))).toEqual(['l']);
    expect(replies(ask('qXfer:features:read:nope.xml:0,100', 'qXfer:features:read:target.xml:ffff,10'))).toEqual(['E22', 'E22']);
  });

  it('qRcmd output as hex, OK when silent, O packets when large', () => {
    const { ask } = setup();
    expect(replies(ask('qRcmd,' + Buffer.from('ps').toString('hex')))).toEqual([Buffer.from('ran ps\n').toString('hex')]);
    expect(replies(ask('qRcmd,' + Buffer.from('quiet').toString('hex')))).toEqual(['OK']);
    const big = setup({ maxPacket: 1000 });
    const r = replies(big.ask('qRcmd,' + Buffer.from('big').toString('hex')));
    expect(r[r.length - 1]).toBe('OK');
    const text = r
      .slice(0, -1)
      .map((p) => {
        expect(p[0]).toBe('O');
        return Buffer.from(p.slice(1), 'hex').toString();
      })
      .join('');
    expect(text).toBe('x'.repeat(5000));
  });
});

describe('session: registers and memory', () => {
  it('g/p follow Hg; G/P check sizes against registerSizes', () => {
    const { ask, target } = setup();
    const g1 = replies(ask('g'))[0]!;
    expect(g1.length).toBe(56);
    expect(replies(ask('Hg2', 'p1'))).toEqual(['OK', '28292a2b2c2d2e2f']);
    expect(target.calls.some((c) => c[0] === 'readRegister' && c[1] === 2)).toBe(true);
    target.calls = [];
    expect(replies(ask('P3=00112233', 'P3=0011', 'P4=00', 'G00'))).toEqual(['OK', 'E22', 'E22', 'E22']);
    expect(target.work).toEqual([['writeRegister', 2, 3, '00112233']]);
    expect(replies(ask('G' + '11'.repeat(28)))).toEqual(['OK']);
    expect(replies(ask('Hg9'))).toEqual(['E22']);
    expect(replies(ask('Hg0', 'p0'))).toEqual(['OK', '1011121314151617']);
  });

  it('the general thread becomes the stopped thread after a stop', async () => {
    const { ask, target } = setup();
    ask('Hg2');
    target.autoStop = { signal: 5, thread: 0x1f };
    ask('vCont;c');
    await tick();
    target.calls = [];
    ask('g');
    expect(target.work).toEqual([['readRegisters', 0x1f]]);
  });

  it('m/M/X; zero length touches nothing; faults and wraps are errors', () => {
    const { ask, target } = setup();
    expect(replies(ask('M1000,4:deadbeef', 'm1000,4', 'm1000,0', 'M1000,0:', 'X1000,0:'))).toEqual(['OK', 'deadbeef', '', 'OK', 'OK']);
    expect(target.work).toEqual([
      ['writeMemory', 0x1000n, 'deadbeef'],
      ['readMemory', 0x1000n, 4],
    ]);
    // binary X with bytes that need escaping
    const data = Buffer.from([0x23, 0x24, 0x7d, 0x2a, 0x03]);
    const s2 = setup({}, target);
    s2.tr.feed(frame(Buffer.concat([Buffer.from('X1004,5:'), data]), true));
    expect(replies(s2.tr.take())).toEqual(['OK']);
    expect(Buffer.from(target.mem.subarray(4, 9))).toEqual(data);
    expect(replies(ask('m0,4', 'Mffe,4:00000000'))).toEqual(['E14', 'E14']);
  });

  it('rejected packets make no target calls', () => {
    const { ask, target } = setup();
    target.calls = [];
    const bad = [
      'mffffffffffffffff,2',
      'm1000,-4',
      'm10000000000000000,1',
      'm1000,20000',
      'M1000,2:ab',
      'M1000,1:abcd',
      'M1000,2:zzzz',
      'X1000,2:a',
      'Xffffffffffffffff,2:ab',
      'G0',
      'Gzz',
      'p',
      'Pz=00',
      'P1=0',
      'Z0,1000',
      'Z0,zz,1',
      'z2,ffffffffffffffff,8',
      'vCont;x',
      'vCont;s:p1.1',
      'vCont;c;c',
      'Cxx',
      'cxyz',
      'Hgzz',
      'Tzz',
      'qRcmd,zz',
      'qThreadExtraInfo,',
      'qXfer:features:read:target.xml:0',
      'D;zz',
    ];
    const r = replies(ask(...bad));
    expect(r).toEqual(bad.map(() => 'E22'));
    expect(target.calls).toEqual([]);
  });
});

describe('session: run control', () => {
  it('? reports the halt reason as a T packet', () => {
    const { ask } = setup();
    expect(replies(ask('?'))).toEqual(['T05thread:1;']);
  });

  it('vCont? and vCont pass the actions through; stop reply expedites registers', async () => {
    const { ask, target, tr } = setup();
    expect(replies(ask('vCont?'))).toEqual(['vCont;c;C;s;S']);
    target.autoStop = {
      signal: 5,
      thread: 0x1f,
      expedite: [
        [16, new Uint8Array([0x10, 0, 0, 0x81, 0xff, 0xff, 0xff, 0xff])],
        [7, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])],
        [6, new Uint8Array(8)],
      ],
      reason: { kind: 'swbreak' },
    };
    expect(ask('vCont;s:1f;c')).toBe('+');
    expect(target.work).toContainEqual([
      'resume',
      [
        { kind: 'step', thread: 0x1f },
        { kind: 'continue', thread: -1 },
      ],
    ]);
    await tick();
    // swbreak was not negotiated: not reported
    const wire = tr.take();
    expect(wire).toContain(';06:0*,;'); // RLE on the wire
    expect(replies(wire)).toEqual(['T05thread:1f;10:10000081ffffffff;07:0102030405060708;06:0000000000000000;']);
    ask('qSupported:swbreak+');
    ask('c');
    await tick();
    expect(replies(tr.take())[0]).toMatch(/;swbreak:;$/);
  });

  it('reports watchpoints and hwbreak', async () => {
    const { ask, target, tr } = setup();
    ask('qSupported:hwbreak+');
    target.autoStop = { signal: 5, thread: 1, reason: { kind: 'awatch', addr: 0xffff8000n } };
    ask('c');
    await tick();
    expect(replies(tr.take())).toEqual(['T05thread:1;awatch:ffff8000;']);
    target.autoStop = { signal: 5, thread: 1, reason: { kind: 'hwbreak' } };
    ask('c');
    await tick();
    expect(replies(tr.take())).toEqual(['T05thread:1;hwbreak:;']);
  });

  it('legacy c/s/C/S map to actions using Hc; resume address passes through', () => {
    const { ask, target } = setup();
    ask('c');
    target.stop({ signal: 5, thread: 1 });
    ask('Hc2', 's');
    target.stop({ signal: 5, thread: 2 });
    ask('Hc0', 'S05;1000');
    target.stop({ signal: 5, thread: 1 });
    ask('Hc-1', 'C02');
    const resumes = target.work.filter((c) => c[0] === 'resume');
    expect(resumes).toEqual([
      ['resume', [{ kind: 'continue', thread: -1 }]],
      ['resume', [{ kind: 'step', thread: 2 }]],
      // Hc0: the general thread, which after the last stop is the stopped thread (2)
      ['resume', [{ kind: 'step', thread: 2, signal: 5 }], 0x1000n],
      ['resume', [{ kind: 'continue', thread: -1, signal: 2 }]],
    ]);
  });

  it('Ctrl-C while running interrupts; the stop reply is T02', () => {
    const { ask, target, tr } = setup();
    ask('c');
    tr.feed('\x03');
    expect(target.work.map((c) => c[0])).toEqual(['resume', 'interrupt']);
    expect(replies(tr.take())).toEqual(['T02thread:1;']);
  });

  it('Ctrl-C while stopped is queued and applied at the next resume', () => {
    const { ask, target, tr } = setup();
    tr.feed('\x03');
    expect(target.work).toEqual([]);
    expect(tr.take()).toBe('');
    const out = ask('vCont;c');
    expect(target.work.map((c) => c[0])).toEqual(['resume', 'interrupt']);
    // ack and the stop reply go out together
    expect(out).toBe('+' + pkt('T02thread:1;'));
    // only once
    target.calls = [];
    ask('c');
    expect(target.work.map((c) => c[0])).toEqual(['resume']);
  });

  it('a resume while running is refused; an unsolicited stop is ignored', () => {
    const { ask, target, tr, logs } = setup();
    target.stop({ signal: 5, thread: 1 });
    expect(tr.take()).toBe('');
    expect(logs.some((l) => l.includes('unsolicited'))).toBe(true);
    ask('c');
    expect(replies(ask('c'))).toEqual(['E16']);
  });

  it('Z/z: supported kinds reach the target, unsupported get the empty reply', () => {
    const { ask, target } = setup();
    expect(replies(ask('Z0,ffffffff81000000,1', 'z0,ffffffff81000000,1', 'Z3,1000,4', 'Z2,1000,8'))).toEqual(['OK', 'OK', '', 'OK']);
    expect(target.work.filter((c) => c[0] !== 'supportsBreakpoint')).toEqual([
      ['insertBreakpoint', 'sw', 0xffffffff81000000n, 1],
      ['removeBreakpoint', 'sw', 0xffffffff81000000n, 1],
      ['insertBreakpoint', 'write', 0x1000n, 8],
    ]);
  });

  it('a throwing target gives E01 and the session lives on', () => {
    const { ask, target, logs } = setup();
    target.monitor = () => {
      throw new Error('boom');
    };
    expect(replies(ask('qRcmd,00', 'qC'))).toEqual(['E01', 'QC1']);
    expect(logs.some((l) => l.includes('boom'))).toBe(true);
  });
});

describe('session: ending', () => {
  it('D: OK, then detach, transport closed, session ends', async () => {
    const { ask, target, tr, session } = setup();
    expect(ask('D')).toBe('+' + pkt('OK'));
    expect(target.work).toEqual([['detach']]);
    expect(tr.closed).toBe(true);
    await expect(session.ended).resolves.toBe('detach');
    expect(ask('qC')).toBe(''); // dead session ignores input
  });

  it('k: no reply, detach, end', async () => {
    const { ask, target, session } = setup();
    expect(ask('k')).toBe('+');
    expect(target.work).toEqual([['detach']]);
    await expect(session.ended).resolves.toBe('kill');
  });

  it('connection lost mid-packet: detach and end cleanly', async () => {
    const { tr, target, session, logs } = setup();
    tr.feed('$m10');
    tr.drop();
    await expect(session.ended).resolves.toBe('disconnect');
    expect(target.work).toEqual([['detach']]);
    expect(logs.some((l) => l.includes('mid-packet'))).toBe(true);
    // a late stop from the target is ignored
    target.stop({ signal: 5, thread: 1 });
    expect(tr.take()).toBe('');
  });

  it('connection lost while running: detach', async () => {
    const { ask, tr, target, session } = setup();
    ask('c');
    tr.drop();
    await session.ended;
    expect(target.work.map((c) => c[0])).toEqual(['resume', 'detach']);
  });
});

describe('session: kgdb profile', () => {
  it('speaks like Linux kgdb on x86', () => {
    const { ask, target } = setup({ profile: 'kgdb' });
    expect(replies(ask('qSupported:multiprocess+;swbreak+;hwbreak+'))).toEqual(['']);
    expect(replies(ask('QStartNoAckMode', 'vCont?', 'vCont;c', 'qXfer:features:read:target.xml:0,100', 'qAttached', 'qSymbol::'))).toEqual([
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
    expect(target.work.filter((c) => c[0] !== 'supportsBreakpoint')).toEqual([]);
    expect(replies(ask('?'))).toEqual(['S05']);
    expect(replies(ask('qC'))).toEqual(['QC01']);
    expect(replies(ask('m0,4', 'mffffffffffffffff,2', 'T9'))).toEqual(['E14', 'E22', 'E22']);
    // no RLE
    expect(ask('m1000,10')).toBe('+' + pkt('0'.repeat(32)));
  });

  it('stop replies carry only the thread', () => {
    const { ask, target, tr } = setup({ profile: 'kgdb' });
    ask('c');
    target.stop({ signal: 5, thread: 0xfffffffe, expedite: [[16, new Uint8Array(8)]], reason: { kind: 'swbreak' } });
    expect(replies(tr.take())).toEqual(['T05thread:fffffffe;']);
  });

  it('thread list: 17 per packet, ended by an empty reply', () => {
    const target = new FakeTarget();
    target.threadList = [0xfffffffe, 0xfffffffd, ...Array.from({ length: 40 }, (_, i) => i + 1)].map((id) => ({ id, extra: '' }));
    const { ask } = setup({ profile: 'kgdb' }, target);
    const r = replies(ask('qfThreadInfo', 'qsThreadInfo', 'qsThreadInfo', 'qsThreadInfo'));
    expect(r[0]).toBe('mfffffffe,fffffffd,01,02,03,04,05,06,07,08,09,0a,0b,0c,0d,0e,0f');
    expect(r[1]!.split(',').length).toBe(17);
    expect(r[2]).toBe('m21,22,23,24,25,26,27,28');
    expect(r[3]).toBe('');
  });

  it('drops packets longer than BUFMAX silently', () => {
    const { tr, target } = setup({ profile: 'kgdb' });
    const ok = 'M1000,1fa:' + '00'.repeat(0x1fa); // exactly 1022 payload bytes: accepted
    expect(ok.length).toBe(1022);
    tr.feed(pkt(ok + '0')); // 1023: get_packet() gives up, no ack, no reply
    expect(tr.take()).toBe('');
    expect(target.work).toEqual([]);
    tr.feed(pkt(ok));
    expect(replies(tr.take())).toEqual(['OK']);
  });
});

describe('session: trace', () => {
  it('logs packets both ways, binary escaped', () => {
    const lines: string[] = [];
    const { tr } = setup({ trace: (d, t) => lines.push(`${d} ${t}`) });
    tr.feed(frame(Buffer.from([0x58, 0x31, 0x30, 0x30, 0x30, 0x2c, 0x31, 0x3a, 0x00]), true));
    tr.feed('+');
    tr.feed(pkt('qC'));
    expect(lines).toEqual(['recv X1000,1:\\x00', 'send OK', 'recv +', 'recv qC', 'send QC1']);
  });
});
