/**
 * SDP summary over sdp-transform. Samples: RFC 4566 §5 example, RFC 3665 §3.1 offer, RFC 4568 §4
 * SDES offer, a GoIP offer built for this test from goip-protocols.md §1.4/§4 ([RE] only: origin
 * template, payload list, ptime, SAVP without a=crypto), and synthetic ones marked as such.
 */
import { GOIP_SDP_OFFER } from '../helpers/sip-samples.js';
import { describe, expect, it } from 'vitest';
import { summarizeSdp } from '../../src/protocols/sdp.js';
import type { SdpSummary } from '../../src/protocols/types.js';

const crlf = (text: string): string => text.replace(/\n/g, '\r\n');

function summary(text: string): SdpSummary {
  const result = summarizeSdp(text);
  if ('error' in result) throw new Error(`expected a summary, got: ${result.error}`);
  return result;
}

// RFC 4566 §5, the example session description.
const RFC4566_EXAMPLE = crlf(`v=0
o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5
s=SDP Seminar
i=A Seminar on the session description protocol
u=http://www.example.com/seminars/sdp.pdf
e=j.doe@example.com (Jane Doe)
c=IN IP4 224.2.17.12/127
t=2873397496 2873404696
a=recvonly
m=audio 49170 RTP/AVP 0
m=video 51372 RTP/AVP 99
a=rtpmap:99 h263-1998/90000
`);

// RFC 3665 §3.1, Alice's offer in F1.
const RFC3665_OFFER = crlf(`v=0
o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com
s=-
c=IN IP4 192.0.2.101
t=0 0
m=audio 49172 RTP/AVP 0
a=rtpmap:0 PCMU/8000
`);

// RFC 4568 §4 (SDES offer example): RTP/SAVP with a=crypto.
const RFC4568_SDES = crlf(`v=0
o=sam 2890844526 2890842807 IN IP4 10.47.16.5
s=SRTP Discussion
i=A discussion of Secure RTP
u=http://www.example.com/seminars/srtp.pdf
e=marge@example.com (Marge Simpson)
c=IN IP4 168.2.17.12
t=2873397496 2873404696
m=audio 49170 RTP/SAVP 0
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4;inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP
`);

// goip-protocols.md §1.4 and §4 [RE] (test/helpers/sip-samples.ts).
const GOIP_OFFER = crlf(GOIP_SDP_OFFER);

describe('summarizeSdp', () => {
  it('reads the GoIP offer: origin template, static codecs, DTMF, ptime ([RE], §1.4/§4)', () => {
    expect(summary(GOIP_OFFER)).toEqual({
      origin: { username: 'userX', sessionId: '20000001', sessionVersion: '20000001', address: '192.168.1.30' },
      sessionName: 'DBL Session',
      connection: '192.168.1.30',
      media: [{
        type: 'audio', port: 10000, protocol: 'RTP/AVP', payloads: [8, 0, 18, 4, 101],
        codecs: ['PCMA', 'PCMU', 'G729', 'G723', 'telephone-event'], ptime: 20, crypto: false, rtpmap: [{ pt: 101, codec: 'telephone-event', rate: 8000 }],
      }],
    });
  });

  it('tells SAVP with SDES keys (RFC 4568 §4) from SAVP without them (GoIP encryption, [RE] §4)', () => {
    expect(summary(RFC4568_SDES).media[0]).toMatchObject({ protocol: 'RTP/SAVP', crypto: true });
    const goipEncrypted = GOIP_OFFER.replace('RTP/AVP', 'RTP/SAVP');
    expect(summary(goipEncrypted).media[0]).toMatchObject({ protocol: 'RTP/SAVP', crypto: false });
  });

  it('reads the RFC 4566 §5 example: two media, rtpmap for a dynamic type, multicast connection', () => {
    const s = summary(RFC4566_EXAMPLE);
    expect(s.origin).toEqual({ username: 'jdoe', sessionId: '2890844526', sessionVersion: '2890842807', address: '10.47.16.5' });
    expect(s.sessionName).toBe('SDP Seminar');
    expect(s.connection).toBe('224.2.17.12');
    expect(s.media.map((m) => [m.type, m.port, m.codecs])).toEqual([['audio', 49170, ['PCMU']], ['video', 51372, ['h263-1998']]]);
  });

  it('reads the RFC 3665 §3.1 offer with bare LF line ends as well', () => {
    expect(summary(RFC3665_OFFER.replace(/\r\n/g, '\n')).media[0]?.codecs).toEqual(['PCMU']);
  });

  it('keeps a 64-bit session id exactly (synthetic, written for this test)', () => {
    const text = RFC3665_OFFER.replace('o=alice 2890844526 2890844526', 'o=- 2862054018559638081 6057228511765453924');
    expect(summary(text).origin).toMatchObject({ sessionId: '2862054018559638081', sessionVersion: '6057228511765453924' });
  });

  it('leaves non-numeric formats out of payloads (T.38 image stream, synthetic)', () => {
    const text = `${RFC3665_OFFER}m=image 40000 udptl t38\r\n`;
    expect(summary(text).media[1]).toEqual({ type: 'image', port: 40000, protocol: 'udptl', payloads: [], codecs: [], crypto: false });
  });

  it('names payload types without rtpmap from the RFC 3551 table and skips unknown dynamic ones', () => {
    const text = RFC3665_OFFER.replace('m=audio 49172 RTP/AVP 0', 'm=audio 49172 RTP/AVP 3 9 13 96');
    expect(summary(text).media[0]?.codecs).toEqual(['GSM', 'G722', 'CN']);
  });
});

describe('summarizeSdp: unusable input gives a reason and never throws', () => {
  it.each([
    ['empty', '', /v=/],
    ['not SDP', 'hello world', /v=/],
    ['no o= and no m=', 'v=0\r\ns=-\r\nt=0 0\r\n', /neither/],
    ['an m= line with a non-numeric port', 'v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nm=audio port RTP/AVP 0\r\n', /m= line 1/],
    ['binary', '\u0000\u0001v=0', /v=/],
  ])('%s', (_name, text, reason) => {
    const result = summarizeSdp(text);
    expect('error' in result && result.error).toMatch(reason);
  });
});
