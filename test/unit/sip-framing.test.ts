/**
 * SIP over TCP: Content-Length framing (RFC 3261 §18.3), keep-alives (RFC 5626 §4.4.1), resync and
 * the buffer cap, then the stream analyzer on top. Messages: RFC 3261 §24.1 REGISTER, RFC 3665 §3.1
 * F1 INVITE (151-byte SDP) and F4 200 OK, and short synthetic ones written for this test.
 */
import { describe, expect, it } from 'vitest';
import type { TcpConnectionInfo } from '../../src/capture/stream.js';
import { sipStreamAnalyzer } from '../../src/protocols/sip/analyzer.js';
import { SipStreamFramer, type FramedSip } from '../../src/protocols/sip/framing.js';
import type { SipObservation } from '../../src/protocols/types.js';
import { crlf, RFC3261_REGISTER, RFC3665_INVITE } from '../helpers/sip-samples.js';


const REGISTER = RFC3261_REGISTER;


// RFC 3665 §3.1, F4 200 OK Bob -> Alice, Content-Length: 147.
const OK_200 = crlf(`SIP/2.0 200 OK
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
 ;received=192.0.2.101
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>;tag=8321234356
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 INVITE
Contact: <sip:bob@client.biloxi.example.com;transport=tcp>
Content-Type: application/sdp
Content-Length: 147

v=0
o=bob 2890844527 2890844527 IN IP4 client.biloxi.example.com
s=-
c=IN IP4 192.0.2.201
t=0 0
m=audio 3456 RTP/AVP 0
a=rtpmap:0 PCMU/8000
`);

// Synthetic, written for this test: a TCP message without Content-Length.
const NO_LENGTH = crlf(`OPTIONS sip:gw@192.168.1.30 SIP/2.0
Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK1
CSeq: 1 OPTIONS

`);

const messages = (out: FramedSip[]): Buffer[] => out.flatMap((o) => ('message' in o ? [o.message] : []));
const errors = (out: FramedSip[]): string[] => out.flatMap((o) => ('error' in o ? [o.error] : []));

describe('SipStreamFramer', () => {
  it('reassembles a message pushed one byte per frame, recording every frame', () => {
    const framer = new SipStreamFramer();
    const out: FramedSip[] = [];
    for (let i = 0; i < RFC3665_INVITE.length; i++) {
      const got = framer.push(RFC3665_INVITE.subarray(i, i + 1), 100 + i);
      if (i < RFC3665_INVITE.length - 1) expect(got).toEqual([]);
      out.push(...got);
    }
    expect(out).toHaveLength(1);
    expect(messages(out)[0]?.equals(RFC3665_INVITE)).toBe(true);
    expect(out[0]?.frames).toEqual(Array.from({ length: RFC3665_INVITE.length }, (_, i) => 100 + i));
    expect(framer.buffered).toBe(0);
  });

  it('splits three messages that arrive in one segment', () => {
    const framer = new SipStreamFramer();
    const out = framer.push(Buffer.concat([REGISTER, RFC3665_INVITE, OK_200]), 9);
    expect(messages(out).map((m) => m.toString('latin1'))).toEqual([REGISTER, RFC3665_INVITE, OK_200].map((m) => m.toString('latin1')));
    expect(out.map((o) => o.frames)).toEqual([[9], [9], [9]]);
    expect(errors(out)).toEqual([]);
  });

  it('skips RFC 5626 keep-alives ("\\r\\n\\r\\n" ping, "\\r\\n" pong) between messages', () => {
    const framer = new SipStreamFramer();
    expect(framer.push(Buffer.from('\r\n\r\n'), 1)).toEqual([]);
    expect(framer.buffered).toBe(0);
    const out = framer.push(Buffer.concat([REGISTER, Buffer.from('\r\n'), REGISTER, Buffer.from('\r\n\r\n')]), 2);
    expect(messages(out)).toHaveLength(2);
    expect(errors(out)).toEqual([]);
    expect(framer.buffered).toBe(0);
  });

  it('waits for the whole Content-Length body and names the frames of head and body', () => {
    const framer = new SipStreamFramer();
    const cut1 = RFC3665_INVITE.length - 151 - 4; // the head without its last CRLFCRLF
    const cut2 = RFC3665_INVITE.length - 60;
    expect(framer.push(RFC3665_INVITE.subarray(0, cut1), 1)).toEqual([]);
    expect(framer.push(RFC3665_INVITE.subarray(cut1, cut2), 2)).toEqual([]);
    // The last segment also opens the next message.
    const out = framer.push(Buffer.concat([RFC3665_INVITE.subarray(cut2), REGISTER.subarray(0, 20)]), 3);
    expect(out).toEqual([{ message: RFC3665_INVITE, frames: [1, 2, 3] }]);
    const next = framer.push(REGISTER.subarray(20), 4);
    expect(next).toEqual([{ message: REGISTER, frames: [3, 4] }]);
  });

  it('copies the bytes it keeps (the caller reuses its chunk buffer)', () => {
    const framer = new SipStreamFramer();
    const chunk = Buffer.from(REGISTER.subarray(0, 50));
    framer.push(chunk, 1);
    chunk.fill(0x58);
    expect(messages(framer.push(REGISTER.subarray(50), 2))[0]?.equals(REGISTER)).toBe(true);
  });

  it('waits on a partial start line ("INV") instead of calling it garbage', () => {
    const framer = new SipStreamFramer();
    expect(framer.push(RFC3665_INVITE.subarray(0, 3), 1)).toEqual([]);
    expect(framer.buffered).toBe(3);
    expect(messages(framer.push(RFC3665_INVITE.subarray(3), 2))).toHaveLength(1);
  });

  it('reads a missing Content-Length as 0 and says so', () => {
    const framer = new SipStreamFramer();
    const out = framer.push(Buffer.concat([NO_LENGTH, REGISTER]), 5);
    expect(messages(out).map((m) => m.toString('latin1'))).toEqual([NO_LENGTH.toString('latin1'), REGISTER.toString('latin1')]);
    expect(errors(out)).toEqual([expect.stringMatching(/no Content-Length/)]);
  });

  it('resynchronises at the next SIP start line after garbage, reporting the garbage once', () => {
    const framer = new SipStreamFramer();
    const junk = Buffer.from('\u0016\u0003\u0001\u0000\u00a5binary junk\r\nmore junk\r\n', 'latin1');
    const out = [...framer.push(junk.subarray(0, 10), 1), ...framer.push(Buffer.concat([junk.subarray(10), REGISTER]), 2)];
    expect(out).toEqual([
      { error: expect.stringMatching(/not SIP/), frames: [1, 2] },
      { message: REGISTER, frames: [2] },
    ]);
  });

  it('does not take "INVITE " in the middle of a garbage line for a start line', () => {
    const framer = new SipStreamFramer();
    const out = [
      ...framer.push(Buffer.from('junk without a line break '), 1),
      ...framer.push(Buffer.from('INVITE sip:x@y SIP/2.0\r\nX: 1\r\n\r\n'), 2),
      ...framer.push(REGISTER, 3),
    ];
    expect(messages(out)).toEqual([REGISTER]);
    expect(errors(out)).toHaveLength(1);
  });

  it('drops a head that outgrows the buffer, then skips its tail quietly', () => {
    const framer = new SipStreamFramer({ maxBuffered: 1024 });
    const longHead = Buffer.from(`OPTIONS sip:x SIP/2.0\r\n${'X-Filler: 0123456789abcdef\r\n'.repeat(60)}`);
    const out = [
      ...framer.push(longHead.subarray(0, 1500), 1),
      ...framer.push(Buffer.concat([longHead.subarray(1500), Buffer.from('\r\n'), REGISTER]), 2),
    ];
    expect(out).toEqual([
      { error: expect.stringMatching(/head longer than the buffer/), frames: [1] },
      { message: REGISTER, frames: [2] },
    ]);
    expect(framer.buffered).toBe(0);
  });

  it('drops a message whose Content-Length exceeds the buffer, skipping its body as it arrives', () => {
    const framer = new SipStreamFramer({ maxBuffered: 1024 });
    const big = Buffer.concat([Buffer.from('MESSAGE sip:x SIP/2.0\r\nContent-Length: 5000\r\n\r\n'), Buffer.alloc(5000, 0x41)]);
    const out: FramedSip[] = [];
    for (let at = 0, frame = 1; at < big.length; at += 700, frame++) out.push(...framer.push(big.subarray(at, at + 700), frame));
    out.push(...framer.push(REGISTER, 99));
    expect(errors(out)).toEqual([expect.stringMatching(/larger than the buffer/)]);
    expect(messages(out)).toEqual([REGISTER]);
    expect(framer.buffered).toBe(0);
  });

  it('hands on a head with an unusable Content-Length alone and resynchronises after its body', () => {
    const framer = new SipStreamFramer();
    const bad = Buffer.from('MESSAGE sip:x SIP/2.0\r\nContent-Length: lots\r\n\r\nbody text\r\n');
    const out = framer.push(Buffer.concat([bad, REGISTER]), 1);
    expect(messages(out).map((m) => m.toString())).toEqual(['MESSAGE sip:x SIP/2.0\r\nContent-Length: lots\r\n\r\n', REGISTER.toString()]);
    expect(errors(out)).toEqual([expect.stringMatching(/not SIP/)]);
  });

  it('reports a message cut by the end of the stream', () => {
    const framer = new SipStreamFramer();
    framer.push(RFC3665_INVITE.subarray(0, 200), 7);
    expect(framer.end()).toEqual([{ error: expect.stringMatching(/ended inside/), frames: [7] }]);
    expect(framer.buffered).toBe(0);
  });
});

const conn: TcpConnectionInfo = {
  client: { ip: '192.0.2.101', port: 49152 },
  server: { ip: '192.0.2.201', port: 5060 },
  fileIndex: 2,
  firstFrame: 1,
  ts: 1_700_000_000_000,
  handshakeSeen: true,
};

describe('sipStreamAnalyzer', () => {
  it.each([
    ['a request from the client', RFC3665_INVITE, true],
    ['a response first, after a CRLF', Buffer.concat([Buffer.from('\r\n'), OK_200]), true],
    ['HTTP', Buffer.from('GET / HTTP/1.1\r\n'), false],
    ['a TLS ClientHello', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), false],
  ])('detects %s: %s', (_name, first, expected) => {
    expect(sipStreamAnalyzer.detect(first, true, conn)).toBe(expected);
  });

  it('frames each direction on its own and names the sender as the device', () => {
    const session = sipStreamAnalyzer.create(conn);
    expect(session.protocol).toBe('sip');
    const a = session.push(true, RFC3665_INVITE.subarray(0, 300), 4, conn.ts + 1);
    const b = session.push(false, OK_200.subarray(0, 100), 5, conn.ts + 2); // interleaved with the client's rest
    const c = session.push(true, RFC3665_INVITE.subarray(300), 6, conn.ts + 3);
    const d = session.push(false, OK_200.subarray(100), 7, conn.ts + 4);
    expect(a.observations).toEqual([]);
    expect(b.observations).toEqual([]);
    const invite = c.observations[0] as SipObservation;
    const ok = d.observations[0] as SipObservation;
    expect(invite).toMatchObject({ method: 'INVITE', device: conn.client, peer: conn.server, ts: conn.ts + 3, ref: { file: 2, frames: [4, 6] } });
    expect(invite.sdp?.media[0]?.codecs).toEqual(['PCMU']);
    expect(ok).toMatchObject({ status: 200, device: conn.server, peer: conn.client, ref: { file: 2, frames: [5, 7] } });
    expect(session.end()).toEqual({ observations: [] });
  });

  it('turns framing errors into Malformed with their frames', () => {
    const session = sipStreamAnalyzer.create(conn);
    const result = session.push(true, Buffer.concat([NO_LENGTH, Buffer.from('\u0000garbage\r\n'), REGISTER]), 11, conn.ts);
    expect(result.observations.map((o) => (o as SipObservation).method)).toEqual(['OPTIONS', 'REGISTER']);
    expect(result.malformed).toEqual([
      { protocol: 'sip', reason: expect.stringMatching(/no Content-Length/), ref: { file: 2, frames: [11] } },
      { protocol: 'sip', reason: expect.stringMatching(/not SIP/), ref: { file: 2, frames: [11] } },
    ]);
    session.push(false, OK_200.subarray(0, 40), 12, conn.ts);
    expect(session.end().malformed).toEqual([{ protocol: 'sip', reason: expect.stringMatching(/ended inside/), ref: { file: 2, frames: [12] } }]);
  });
});
