/**
 * TCP stream reassembly. Segments are synthetic, built by `seg()` below; sequence arithmetic and
 * the handshake rules are those of RFC 9293 §3.4 and §3.5.
 */
import { describe, expect, it } from 'vitest';
import { TcpReassembler, type TcpReassemblyOptions, type TcpSegment } from '../../src/capture/tcp-reassembly.js';
import type { TcpCloseReason, TcpConnectionInfo, TcpStreamConsumer } from '../../src/capture/stream.js';

const CLIENT = { ip: '192.168.1.20', port: 40000 };
const SERVER = { ip: '10.0.0.5', port: 5060 };

type Event =
  | { kind: 'data'; fromClient: boolean; text: string; frame: number }
  | { kind: 'gap'; fromClient: boolean; missing: number; frame: number }
  | { kind: 'close'; reason: TcpCloseReason };

interface Recorder {
  opened: TcpConnectionInfo[];
  events: Event[];
  /** Concatenated bytes per direction of the first connection. */
  stream(fromClient: boolean): string;
}

/** A handler that records everything; `consume` decides per connection whether to take it. */
function recorder(
  consume: (conn: TcpConnectionInfo) => 'take' | 'refuse' | 'decline-data' | 'throw' = () => 'take',
): { handler: { open(conn: TcpConnectionInfo): TcpStreamConsumer | null }; rec: Recorder } {
  const rec: Recorder = {
    opened: [],
    events: [],
    stream: (fromClient) => rec.events
      .filter((e): e is Extract<Event, { kind: 'data' }> => e.kind === 'data' && e.fromClient === fromClient)
      .map((e) => e.text).join(''),
  };
  return {
    rec,
    handler: {
      open(conn) {
        rec.opened.push(conn);
        const mode = consume(conn);
        if (mode === 'refuse') return null;
        return {
          data(fromClient, data, frame) {
            if (mode === 'throw') throw new Error('analyzer bug');
            // Copy as a real consumer must: the buffer is only valid during the call.
            rec.events.push({ kind: 'data', fromClient, text: data.toString('latin1'), frame });
            return mode !== 'decline-data';
          },
          gap(fromClient, missing, frame) {
            rec.events.push({ kind: 'gap', fromClient, missing, frame });
          },
          close(reason) {
            rec.events.push({ kind: 'close', reason });
          },
        };
      },
    },
  };
}

let frameNo = 0;
/** One segment from the client (`from: 'c'`) or the server (`'s'`). */
function seg(from: 'c' | 's', seq: number, text: string, flags: Partial<TcpSegment> = {}): TcpSegment {
  const a = from === 'c' ? CLIENT : SERVER;
  const b = from === 'c' ? SERVER : CLIENT;
  frameNo++;
  return {
    fileIndex: 0, srcIp: a.ip, dstIp: b.ip, srcPort: a.port, dstPort: b.port,
    seq: seq >>> 0, ack: 0, syn: false, fin: false, rst: false, ackFlag: true,
    payload: Buffer.from(text, 'latin1'), frame: frameNo, ts: 1_000_000 + frameNo, ...flags,
  };
}

function setup(opts: TcpReassemblyOptions = {}, consume?: Parameters<typeof recorder>[0]) {
  const { handler, rec } = recorder(consume);
  return { r: new TcpReassembler(handler, opts), rec };
}

/** Client ISN 1000, server ISN 5000: client data starts at 1001, server data at 5001. */
function handshake(r: TcpReassembler): void {
  r.push(seg('c', 1000, '', { syn: true, ackFlag: false }));
  r.push(seg('s', 5000, '', { syn: true, ack: 1001 }));
  r.push(seg('c', 1001, ''));
}

describe('TcpReassembler', () => {
  it('delivers in-order data of both directions as it comes, without copying', () => {
    const { handler, rec } = recorder();
    const seen: Buffer[] = [];
    const r = new TcpReassembler({
      open: (c) => {
        const inner = handler.open(c)!;
        return { ...inner, data: (fc, d, f, t) => { seen.push(d); return inner.data(fc, d, f, t); } };
      },
    });
    handshake(r);
    const s1 = seg('c', 1001, 'REGISTER ');
    r.push(s1);
    r.push(seg('c', 1010, 'sip:x'));
    r.push(seg('s', 5001, 'SIP/2.0 200 OK'));
    expect(rec.stream(true)).toBe('REGISTER sip:x');
    expect(rec.stream(false)).toBe('SIP/2.0 200 OK');
    expect(seen[0]!.buffer).toBe(s1.payload.buffer); // the view itself, not a copy
    expect(rec.opened).toHaveLength(1);
    expect(rec.opened[0]).toMatchObject({ client: CLIENT, server: SERVER, handshakeSeen: true });
  });

  it('delivers out-of-order segments in sequence order once the hole is filled', () => {
    const { r, rec } = setup();
    handshake(r);
    r.push(seg('c', 1007, 'CCC'));
    r.push(seg('c', 1004, 'BBB'));
    expect(rec.stream(true)).toBe('');
    r.push(seg('c', 1001, 'AAA'));
    expect(rec.stream(true)).toBe('AAABBBCCC');
    expect(r.stats.outOfOrder).toBe(2);
  });

  it('keeps its own copy of buffered segments (the capture buffer is reused)', () => {
    const { r, rec } = setup();
    handshake(r);
    const ahead = seg('c', 1004, 'BBB');
    r.push(ahead);
    ahead.payload.fill(0x58); // the capture layer overwrites its buffer with the next packet
    r.push(seg('c', 1001, 'AAA'));
    expect(rec.stream(true)).toBe('AAABBB');
  });

  it('delivers a retransmitted segment once', () => {
    const { r, rec } = setup();
    handshake(r);
    r.push(seg('c', 1001, 'hello'));
    r.push(seg('c', 1001, 'hello'));
    r.push(seg('c', 1006, ' world'));
    expect(rec.stream(true)).toBe('hello world');
    expect(r.stats.retransmitted).toBe(1);
  });

  it('delivers only the new tail of a retransmission that overlaps and extends', () => {
    const { r, rec } = setup();
    handshake(r);
    r.push(seg('c', 1001, 'abcdef'));
    r.push(seg('c', 1004, 'defGHI')); // repacketised: 3 old bytes, 3 new
    expect(rec.stream(true)).toBe('abcdefGHI');
    const last = rec.events.at(-1);
    expect(last).toMatchObject({ kind: 'data', text: 'GHI' });
    expect(r.stats.retransmitted).toBe(1);
  });

  it('trims overlapping buffered segments when draining', () => {
    const { r, rec } = setup();
    handshake(r);
    r.push(seg('c', 1005, 'EFGH'));
    r.push(seg('c', 1003, 'CDEF'));
    r.push(seg('c', 1001, 'AB'));
    expect(rec.stream(true)).toBe('ABCDEFGH');
  });

  it('follows the sequence space across the 2^32 wrap', () => {
    const { r, rec } = setup();
    const isn = 0xfffffffa; // data starts at 0xfffffffb, 5 bytes before the wrap
    r.push(seg('c', isn, '', { syn: true, ackFlag: false }));
    r.push(seg('c', 0xfffffffb, 'AB'));
    r.push(seg('c', 0x00000000, 'FGH')); // after a hole (CDE) that straddles the wrap
    r.push(seg('c', 0x00000003, 'IJ'));
    expect(rec.stream(true)).toBe('AB');
    r.push(seg('c', 0xfffffffd, 'CDE'));
    r.push(seg('c', 0xfffffffe, 'DEFG')); // a retransmission across the wrap
    r.flush();
    expect(rec.stream(true)).toBe('ABCDEFGHIJ');
    expect(r.stats).toMatchObject({ outOfOrder: 2, retransmitted: 1 });
    expect(r.stats.gaps).toBe(0);
  });

  it('takes the first sender as client when the handshake was not captured', () => {
    const { r, rec } = setup();
    r.push(seg('c', 777, 'OPTIONS'));
    r.push(seg('s', 999, 'SIP/2.0 200'));
    expect(rec.opened[0]).toMatchObject({ client: CLIENT, server: SERVER, handshakeSeen: false });
    expect(rec.stream(true)).toBe('OPTIONS');
    expect(rec.stream(false)).toBe('SIP/2.0 200');
  });

  it('takes the well-known-port side as server when it is the first sender seen', () => {
    const { r, rec } = setup();
    const smtp = { fileIndex: 0, srcIp: '10.0.0.9', srcPort: 25, dstIp: '192.168.1.20', dstPort: 51000 };
    r.push({ ...seg('s', 1, '220 mail ESMTP\r\n'), ...smtp });
    r.push({ ...seg('c', 1, 'EHLO goip\r\n'), srcIp: smtp.dstIp, srcPort: smtp.dstPort, dstIp: smtp.srcIp, dstPort: smtp.srcPort });
    expect(rec.opened[0]).toMatchObject({ client: { ip: '192.168.1.20', port: 51000 }, server: { ip: '10.0.0.9', port: 25 } });
    expect(rec.stream(false)).toBe('220 mail ESMTP\r\n');
    expect(rec.stream(true)).toBe('EHLO goip\r\n');
  });

  it('takes an AMI server on 5038 as server when its banner is the first segment seen', () => {
    const { r, rec } = setup();
    const ami = { fileIndex: 0, srcIp: '192.168.1.50', srcPort: 5038, dstIp: '192.168.1.9', dstPort: 50123 };
    r.push({ ...seg('s', 1, 'Asterisk Call Manager/1.1\r\n'), ...ami });
    expect(rec.opened[0]).toMatchObject({ client: { ip: '192.168.1.9', port: 50123 }, server: { ip: '192.168.1.50', port: 5038 } });
  });

  it('takes the SYN-ACK sender as server and starts the client stream from its ACK', () => {
    const { r, rec } = setup();
    r.push(seg('s', 5000, '', { syn: true, ack: 1001 }));
    r.push(seg('c', 1004, 'DEF')); // the client's first segment was lost: a hole of 3
    r.push(seg('c', 1001, 'ABC'));
    expect(rec.opened[0]).toMatchObject({ client: CLIENT, server: SERVER, handshakeSeen: true });
    expect(rec.stream(true)).toBe('ABCDEF');
  });

  it('skips a hole after maxOutOfOrderBytes and reports it with gap()', () => {
    const { r, rec } = setup({ maxOutOfOrderBytes: 8 });
    handshake(r);
    r.push(seg('c', 1001, 'AAAA'));
    r.push(seg('c', 1010, 'CCCC')); // 5 bytes missing at 1005..1009
    expect(rec.stream(true)).toBe('AAAA');
    const over = seg('c', 1014, 'DDDDD'); // 9 buffered > 8
    r.push(over);
    expect(rec.events.filter((e) => e.kind !== 'close')).toEqual([
      { kind: 'data', fromClient: true, text: 'AAAA', frame: expect.any(Number) },
      { kind: 'gap', fromClient: true, missing: 5, frame: over.frame - 1 },
      { kind: 'data', fromClient: true, text: 'CCCC', frame: over.frame - 1 },
      { kind: 'data', fromClient: true, text: 'DDDDD', frame: over.frame },
    ]);
    expect(r.stats).toMatchObject({ gaps: 1, gapBytes: 5 });
    r.push(seg('c', 1005, 'BBBBB')); // the lost bytes turn up late: already given up on
    expect(rec.stream(true)).toBe('AAAACCCCDDDDD');
  });

  it('skips a hole rather than hold more than 1024 tiny out-of-order segments', () => {
    const { r, rec } = setup();
    handshake(r);
    for (let i = 0; i < 1025; i++) r.push(seg('c', 1101 + 2 * i, 'x')); // every other byte missing
    expect(rec.events[0]).toEqual({ kind: 'gap', fromClient: true, missing: 100, frame: expect.any(Number) });
    expect(r.stats.gaps).toBeGreaterThan(0);
  });

  it('does not buffer or deliver anything more for a connection whose consumer declined', () => {
    const { r, rec } = setup({}, () => 'decline-data');
    handshake(r);
    r.push(seg('c', 1001, 'TLS'));
    r.push(seg('c', 2000, 'far ahead'));
    r.push(seg('c', 1004, 'more'));
    expect(rec.events).toEqual([{ kind: 'data', fromClient: true, text: 'TLS', frame: expect.any(Number) }]);
    expect(r.stats).toMatchObject({ ignored: 1, outOfOrder: 0 });
    expect(r.size).toBe(0);
  });

  it('asks the handler once for a connection it refused and then stays out of the way', () => {
    const { r, rec } = setup({}, () => 'refuse');
    handshake(r);
    for (let i = 0; i < 10; i++) r.push(seg('c', 1001 + i, 'x'));
    expect(rec.opened).toHaveLength(1);
    expect(r.stats.ignored).toBe(1);
    expect(r.size).toBe(0);
  });

  it('reopens a 4-tuple it ignored when a new SYN arrives on it', () => {
    const { r, rec } = setup({}, () => 'refuse');
    handshake(r);
    r.push(seg('c', 90_000, '', { syn: true, ackFlag: false }));
    expect(rec.opened).toHaveLength(2);
  });

  it('closes the least recently active connection when maxConnections is reached', () => {
    const closed: string[] = [];
    const r = new TcpReassembler({
      open: (c) => ({ data: () => true, close: (reason) => closed.push(`${c.client.port}:${reason}`) }),
    }, { maxConnections: 2 });
    const from = (port: number, seq: number): TcpSegment => ({ ...seg('c', seq, 'x'), srcPort: port });
    r.push(from(41001, 1));
    r.push(from(41002, 1));
    r.push(from(41001, 2)); // 41001 is now the most recent
    r.push(from(41003, 1));
    expect(closed).toEqual(['41002:evicted']);
    expect(r.size).toBe(2);
    expect(r.stats.evicted).toBe(1);
  });

  it('closes a connection idle longer than idleTimeoutMs by capture time', () => {
    const { r, rec } = setup({ idleTimeoutMs: 60_000 });
    r.push({ ...seg('c', 1, 'a'), ts: 0 });
    r.push({ ...seg('c', 2, 'b'), ts: 59_000 });
    expect(rec.events.some((e) => e.kind === 'close')).toBe(false);
    r.push({ ...seg('c', 1, 'other'), srcPort: 41000, ts: 119_001 });
    expect(rec.events.filter((e) => e.kind === 'close')).toEqual([{ kind: 'close', reason: 'timeout' }]);
    expect(r.stats.timedOut).toBe(1);
    expect(r.size).toBe(1);
  });

  it('closes with fin once both directions have finished, even when a FIN overtakes data', () => {
    const { r, rec } = setup();
    handshake(r);
    r.push(seg('c', 1004, '', { fin: true })); // FIN at 1004, bytes 1001..1003 still missing
    r.push(seg('s', 5001, 'bye', { fin: true }));
    expect(rec.events.some((e) => e.kind === 'close')).toBe(false);
    r.push(seg('c', 1001, 'END'));
    expect(rec.stream(true)).toBe('END');
    expect(rec.events.at(-1)).toEqual({ kind: 'close', reason: 'fin' });
    r.push(seg('c', 1005, '')); // trailing ACK does not reopen
    expect(rec.opened).toHaveLength(1);
  });

  it('closes at RST after delivering what was buffered', () => {
    const { r, rec } = setup();
    handshake(r);
    r.push(seg('c', 1004, 'late'));
    r.push(seg('s', 5001, '', { rst: true }));
    expect(rec.events).toEqual([
      { kind: 'gap', fromClient: true, missing: 3, frame: expect.any(Number) },
      { kind: 'data', fromClient: true, text: 'late', frame: expect.any(Number) },
      { kind: 'close', reason: 'rst' },
    ]);
  });

  it('flush() delivers what it holds and closes every connection with end', () => {
    const { r, rec } = setup();
    handshake(r);
    r.push(seg('c', 1001, 'A'));
    r.push(seg('c', 1003, 'C'));
    r.flush();
    expect(rec.stream(true)).toBe('AC');
    expect(rec.events.at(-1)).toEqual({ kind: 'close', reason: 'end' });
    expect(r.size).toBe(0);
  });

  it('counts a consumer exception, reports it and ignores that connection thereafter', () => {
    const errors: unknown[] = [];
    const { handler } = recorder(() => 'throw');
    const r = new TcpReassembler(handler, { onConsumerError: (e) => errors.push(e) });
    r.push(seg('c', 1, 'boom'));
    r.push(seg('c', 5, 'again'));
    r.push({ ...seg('c', 1, 'other'), srcPort: 41000 });
    expect(r.stats.consumerErrors).toBe(2); // one per connection, not per segment
    expect(errors).toHaveLength(2);
    expect(r.size).toBe(0);
  });

  it('starts a new connection when the same 4-tuple appears in another input file', () => {
    const { r, rec } = setup();
    r.push(seg('c', 1, 'a'));
    r.push({ ...seg('c', 2, 'b'), fileIndex: 1 });
    expect(rec.opened.map((c) => c.fileIndex)).toEqual([0, 1]);
    expect(rec.events).toContainEqual({ kind: 'close', reason: 'end' });
  });

  it('never holds more than maxConnections connections (100,000 distinct ones pushed)', () => {
    const r = new TcpReassembler({ open: () => ({ data: () => true, close: () => undefined }) }, { maxConnections: 1000 });
    let max = 0;
    const payload = Buffer.from('x');
    for (let i = 0; i < 100_000; i++) {
      r.push({
        fileIndex: 0, srcIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dstIp: '10.255.0.1',
        srcPort: 1024 + (i % 60000), dstPort: 80, seq: 1, ack: 0, syn: false, fin: false, rst: false,
        ackFlag: true, payload, frame: i + 1, ts: i,
      });
      if (r.size > max) max = r.size;
    }
    expect(max).toBe(1000);
    expect(r.stats.evicted).toBe(99_000);
  });

  it('bounds buffered bytes across connections with maxBufferedBytes', () => {
    const { r, rec } = setup({ maxBufferedBytes: 2000 });
    for (let c = 0; c < 50; c++) {
      const port = 42000 + c;
      r.push({ ...seg('c', 1, 'a'), srcPort: port });
      r.push({ ...seg('c', 100, 'z'.repeat(100)), srcPort: port }); // a hole, then buffered
    }
    expect(r.stats.gaps).toBeGreaterThan(0);
    expect(rec.events.filter((e) => e.kind === 'gap').length).toBe(r.stats.gaps);
  });
});
