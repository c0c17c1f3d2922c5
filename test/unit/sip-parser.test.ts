/**
 * SIP parser and UDP analyzer. Every sample names its source:
 * - RFC 3261 §24 call-flow messages and the folding/compact-form rules of §7.3.1/§7.3.3;
 * - RFC 3665 (SIP basic call flows) for a REGISTER challenge and an INVITE with SDP;
 * - RFC 4475 §3.1.1.1 "wsinv", the short tortuous INVITE (folded lines, compact headers, odd spacing);
 * - GoIP messages built for this test from the [RE]-only markers of goip-protocols.md §1.4
 *   (User-Agent `dble`, SDP `o=userX 20000001 20000001`, `480 Remote Busy`, decimal branch); no
 *   real GoIP SIP capture exists yet, so these check our reading, not the firmware;
 * - softphone/Asterisk-style messages marked "synthetic, written for this test".
 */
import { describe, expect, it } from 'vitest';
import { addressOfRecord, analyzeSip } from '../../src/protocols/sip/analyzer.js';
import { headerValue, looksLikeSip, parseSipMessage, type SipMessage } from '../../src/protocols/sip/parser.js';
import type { PacketContext, SipObservation } from '../../src/protocols/types.js';
import { crlf, RFC3261_REGISTER, RFC3665_INVITE } from '../helpers/sip-samples.js';

/** Message text written with "\n" line ends, sent with CRLF (as the RFCs' examples are). */

function parsed(buf: Buffer): SipMessage {
  const msg = parseSipMessage(buf);
  if ('error' in msg) throw new Error(`expected a message, got: ${msg.error}`);
  return msg;
}


// RFC 3261 §24.2, F2 100 Trying atlanta.com proxy -> Alice (Via folded onto a second line).
const RFC3261_TRYING = crlf(`SIP/2.0 100 Trying
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8
 ;received=192.0.2.1
To: Bob <sip:bob@biloxi.com>
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Content-Length: 0

`);

// RFC 3261 §24.2, F1 INVITE Alice -> atlanta.com proxy. The RFC does not show Alice's SDP, so the
// datagram is shorter than its Content-Length: 142.
const RFC3261_INVITE_NO_SDP = crlf(`INVITE sip:bob@biloxi.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8
Max-Forwards: 70
To: Bob <sip:bob@biloxi.com>
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.com>
Content-Type: application/sdp
Content-Length: 142

`);

// RFC 3665 §2.1, F2 401 Unauthorized Registrar -> Bob (folded Via and WWW-Authenticate).
const RFC3665_401 = crlf(`SIP/2.0 401 Unauthorized
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7
 ;received=192.0.2.201
From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl
To: Bob <sips:bob@biloxi.example.com>;tag=1410948204
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 1 REGISTER
WWW-Authenticate: Digest realm="atlanta.example.com", qop="auth",
 nonce="ea9c8e88df84f1cec4341ae6cbe5a359",
 opaque="", stale=FALSE, algorithm=MD5
Content-Length: 0

`);


// RFC 4475 §3.1.1.1, "A Short Tortuous INVITE" (wsinv), sent with CRLF.
const RFC4475_WSINV = crlf(`INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : 150
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.3
s=-
c=IN IP4 192.0.2.4
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
`);

// Built for this test from goip-protocols.md §1.4 [RE]: UA "dble", decimal-only branch, Contact
// "<sip:%s@%s>;expires=%d", one AoR per GSM channel.
const GOIP_REGISTER = crlf(`REGISTER sip:192.0.2.10 SIP/2.0
Via: SIP/2.0/UDP 192.168.1.30:5060;branch=z9hG4bK1804289383
From: <sip:8001@192.0.2.10>;tag=846930886
To: <sip:8001@192.0.2.10>
Call-ID: 1681692777@192.168.1.30
CSeq: 1 REGISTER
Contact: <sip:8001@192.168.1.30>;expires=60
User-Agent: dble
Expires: 60
Content-Length: 0

`);

// Built for this test from goip-protocols.md §1.4 [RE]: the hard-coded "480 Remote Busy".
const GOIP_480 = crlf(`SIP/2.0 480 Remote Busy
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-asterisk-1
From: <sip:0123456789@192.0.2.10>;tag=as1
To: <sip:0123456789@192.168.1.30>;tag=1957747793
Call-ID: 2f1d@192.0.2.10
CSeq: 102 INVITE
User-Agent: dble
Content-Length: 0

`);

// Synthetic, written for this test: an Asterisk-style OPTIONS qualify ping, compact headers, bare LF.
const ASTERISK_OPTIONS_LF = Buffer.from(
  'OPTIONS sip:8001@192.168.1.30:5060 SIP/2.0\n' +
    'v: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK3a1b;rport\n' +
    'f: "asterisk" <sip:asterisk@192.0.2.10>;tag=as7e1\n' +
    't: <sip:8001@192.168.1.30:5060>\n' +
    'i: 5c0f@192.0.2.10:5060\n' +
    'CSeq: 102 OPTIONS\n' +
    'User-Agent: Asterisk PBX 18.12.0\n' +
    'k: replaces, timer\n' +
    'l: 0\n' +
    '\n',
  'utf8',
);

// Synthetic, written for this test: a MESSAGE whose Subject is the folded example of RFC 3261 §7.3.1.
const FOLDED_SUBJECT = crlf(`MESSAGE sip:bob@biloxi.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776sgdkse
Subject: I know you're there,
         pick up the phone
         and talk to me!
Content-Length: 5

hello and trailing bytes past Content-Length`);

describe('looksLikeSip', () => {
  it.each([
    ['a request line (RFC 3261 §24.1)', RFC3261_REGISTER, true],
    ['a status line (RFC 3261 §24.2)', RFC3261_TRYING, true],
    ['every listed method', Buffer.from('SUBSCRIBE sip:x SIP/2.0\r\n'), true],
    ['PUBLISH', Buffer.from('PUBLISH sip:x SIP/2.0\r\n'), true],
    ['a method without the space', Buffer.from('INVITEsip:x SIP/2.0'), false],
    ['a longer word that starts with a method', Buffer.from('INVITES sip:x SIP/2.0'), false],
    ['lower-case method (methods are case-sensitive, RFC 3261 §7.1)', Buffer.from('invite sip:x SIP/2.0'), false],
    ['an HTTP response', Buffer.from('HTTP/1.1 200 OK\r\n'), false],
    ['"SIP/2.0" without the space', Buffer.from('SIP/2.0'), false],
    ['a GoIP keep-alive (goip-protocols.md §1.1.1)', Buffer.from('req:10;id:goipid1;pass:password1;'), false],
    ['an RFC 5626 keep-alive', Buffer.from('\r\n\r\n'), false],
    ['an empty datagram', Buffer.alloc(0), false],
  ])('%s → %s', (_name, payload, expected) => {
    expect(looksLikeSip(payload)).toBe(expected);
  });
});

describe('parseSipMessage: samples', () => {
  it('reads the RFC 3261 §24.1 REGISTER', () => {
    const msg = parsed(RFC3261_REGISTER);
    expect(msg).toMatchObject({ isRequest: true, method: 'REGISTER', requestUri: 'sip:registrar.biloxi.com' });
    expect(msg.headers.map(([n]) => n)).toEqual([
      'via', 'max-forwards', 'to', 'from', 'call-id', 'cseq', 'contact', 'expires', 'content-length',
    ]);
    expect(headerValue(msg.headers, 'cseq')).toBe('1826 REGISTER');
    expect(msg.body.length).toBe(0);
  });

  it('joins a folded Via with one space (RFC 3261 §24.2 F2, §7.3.1)', () => {
    const msg = parsed(RFC3261_TRYING);
    expect(msg).toMatchObject({ isRequest: false, status: 100, reason: 'Trying' });
    expect(headerValue(msg.headers, 'via')).toBe('SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8 ;received=192.0.2.1');
  });

  it('keeps what a datagram has when it is shorter than its Content-Length (RFC 3261 §24.2 F1)', () => {
    const msg = parsed(RFC3261_INVITE_NO_SDP);
    expect(msg.method).toBe('INVITE');
    expect(headerValue(msg.headers, 'content-length')).toBe('142');
    expect(msg.body.length).toBe(0);
  });

  it('joins a three-line WWW-Authenticate (RFC 3665 §2.1 F2)', () => {
    const msg = parsed(RFC3665_401);
    expect(msg.status).toBe(401);
    expect(headerValue(msg.headers, 'www-authenticate')).toBe(
      'Digest realm="atlanta.example.com", qop="auth", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", opaque="", stale=FALSE, algorithm=MD5',
    );
  });

  it('cuts the body at Content-Length 151 (RFC 3665 §3.1 F1)', () => {
    const msg = parsed(RFC3665_INVITE);
    expect(msg.body.length).toBe(151);
    expect(msg.body.toString('utf8')).toMatch(/^v=0\r\n[\s\S]*a=rtpmap:0 PCMU\/8000\r\n$/);
  });

  it('reads the RFC 4475 §3.1.1.1 short tortuous INVITE', () => {
    const msg = parsed(RFC4475_WSINV);
    expect(msg.requestUri).toBe('sip:vivekg@chair-dnrc.example.com;unknownparam');
    const names = msg.headers.map(([n]) => n);
    // "TO :", "MaX-fOrWaRdS", and the compact s, v, m forms.
    expect(names).toEqual([
      'to', 'from', 'max-forwards', 'call-id', 'content-length', 'cseq', 'via', 'subject', 'newfangledheader',
      'unknownheaderwithunusualvalue', 'content-type', 'route', 'via', 'contact',
    ]);
    expect(headerValue(msg.headers, 'to')).toBe('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
    expect(headerValue(msg.headers, 'cseq')).toBe('0009 INVITE');
    expect(headerValue(msg.headers, 'subject')).toBe('');
    expect(headerValue(msg.headers, 'newfangledheader')).toBe('newfangled value continued newfangled value');
    expect(msg.body.length).toBe(150);
  });

  it('accepts bare LF line ends and compact forms (synthetic Asterisk OPTIONS)', () => {
    const msg = parsed(ASTERISK_OPTIONS_LF);
    expect(msg.method).toBe('OPTIONS');
    expect(msg.headers.map(([n]) => n)).toEqual([
      'via', 'from', 'to', 'call-id', 'cseq', 'user-agent', 'supported', 'content-length',
    ]);
  });

  it('unfolds the RFC 3261 §7.3.1 Subject and drops bytes past Content-Length (RFC 3261 §18.3)', () => {
    const msg = parsed(FOLDED_SUBJECT);
    expect(headerValue(msg.headers, 'subject')).toBe("I know you're there, pick up the phone and talk to me!");
    expect(msg.body.toString()).toBe('hello');
  });

  it('expands every compact form of the brief', () => {
    const letters = 'i f t v m l c k s e o r u x b a j y n d'.split(' ');
    const text = `NOTIFY sip:a@b SIP/2.0\r\n${letters.map((l) => `${l.toUpperCase()}: 1`).join('\r\n')}\r\n\r\n`;
    const msg = parsed(Buffer.from(text));
    expect(msg.headers.map(([n]) => n)).toEqual([
      'call-id', 'from', 'to', 'via', 'contact', 'content-length', 'content-type', 'supported', 'subject',
      'content-encoding', 'event', 'refer-to', 'allow-events', 'session-expires', 'referred-by',
      'accept-contact', 'reject-contact', 'identity', 'identity-info', 'request-disposition',
    ]);
  });
});

describe('parseSipMessage: malformed input gives a reason and never throws', () => {
  it.each([
    ['empty', '', /empty/],
    ['only CRLFs', '\r\n\r\n', /empty/],
    ['unknown SIP version in a request', 'INVITE sip:a@b SIP/3.0\r\n\r\n', /version/],
    ['status code below 100', 'SIP/2.0 099 Odd\r\n\r\n', /out of range/],
    ['status line without a code', 'SIP/2.0 OK\r\n\r\n', /status line/],
    ['two spaces in the request line', 'INVITE  sip:a@b SIP/2.0\r\n\r\n', /start line/],
    ['a header line without a colon', 'OPTIONS sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP x\r\n\r\n', /without "name:"/],
    ['a continuation before any header', 'OPTIONS sip:a@b SIP/2.0\r\n folded\r\n\r\n', /continuation/],
    ['a header name that is not a token', 'OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n', /not a token/],
    ['Content-Length not a number (RFC 4475 §3.1.2.5 style)', 'OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n', /Content-Length/],
    ['binary garbage', '\u0000\u0001\u0002\u0003', /start line/],
  ])('%s', (_name, text, reason) => {
    const result = parseSipMessage(Buffer.from(text, 'latin1'));
    expect('error' in result && result.error).toMatch(reason);
  });
});

const GATEWAY = { ip: '192.168.1.30', port: 5060 };
const SERVER = { ip: '192.0.2.10', port: 5060 };
const ctx = (frame: number): PacketContext => ({ src: GATEWAY, dst: SERVER, transport: 'udp', ts: 1_700_000_000_000, ref: { file: 0, frames: [frame] } });

function sipObservation(payload: Buffer, frame = 1): SipObservation {
  const result = analyzeSip(payload, ctx(frame));
  expect(result?.malformed).toBeUndefined();
  expect(result?.observations).toHaveLength(1);
  return result?.observations[0] as SipObservation;
}

describe('analyzeSip', () => {
  it('reads a GoIP-style REGISTER: UA, AoR, first Via, Contact ([RE] markers, §1.4)', () => {
    const obs = sipObservation(GOIP_REGISTER, 7);
    expect(obs).toMatchObject({
      kind: 'sip', device: GATEWAY, peer: SERVER, ref: { file: 0, frames: [7] }, isRequest: true, method: 'REGISTER',
      userAgent: 'dble', aor: 'sip:8001@192.0.2.10', contact: '<sip:8001@192.168.1.30>;expires=60',
      via: 'SIP/2.0/UDP 192.168.1.30:5060;branch=z9hG4bK1804289383', callId: '1681692777@192.168.1.30', cseq: '1 REGISTER',
    });
    expect(obs.sdp).toBeUndefined();
  });

  it('keeps the reason phrase of a GoIP "480 Remote Busy" ([RE], §1.4)', () => {
    const obs = sipObservation(GOIP_480);
    expect(obs).toMatchObject({ isRequest: false, status: 480, reason: 'Remote Busy', userAgent: 'dble' });
    expect(obs.aor).toBeUndefined();
  });

  it('takes the AoR of the RFC 3261 §24.1 REGISTER without the display name', () => {
    expect(sipObservation(RFC3261_REGISTER).aor).toBe('sip:bob@biloxi.com');
  });

  it('summarizes the SDP of the RFC 3665 §3.1 INVITE', () => {
    const obs = sipObservation(RFC3665_INVITE);
    expect(obs.sdp).toMatchObject({
      origin: { username: 'alice', sessionId: '2890844526', sessionVersion: '2890844526', address: 'client.atlanta.example.com' },
      connection: '192.0.2.101',
      media: [{ type: 'audio', port: 49172, protocol: 'RTP/AVP', payloads: [0], codecs: ['PCMU'], crypto: false }],
    });
  });

  it('takes the first hop of a Via with two (RFC 4475 §3.1.1.1) and names headers once each', () => {
    const obs = sipObservation(RFC4475_WSINV);
    // Values are kept as sent: the LWS around "/" is legal (RFC 3261 §25.1) and not normalised.
    expect(obs.via).toBe('SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw');
    expect(obs.headerNames.filter((n) => n === 'via')).toHaveLength(1);
    expect(obs.contact).toBe('"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33');
    // PT 0 and 12 from the RFC 3551 static table; "a=rtpmap:31 LPC" overrides the static H261 for 31.
    expect(obs.sdp?.media.map((m) => m.codecs)).toEqual([['PCMU', 'QCELP'], ['LPC']]);
  });

  it('gives sdpError when an application/sdp body is not SDP', () => {
    const text = 'INVITE sip:a@b SIP/2.0\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nhello';
    const obs = sipObservation(Buffer.from(text));
    expect(obs.sdp).toBeUndefined();
    expect(obs.sdpError).toMatch(/v=/);
  });

  it('returns null for a payload that is not SIP, and a Malformed for a broken one', () => {
    expect(analyzeSip(Buffer.from('GET / HTTP/1.1\r\n\r\n'), ctx(1))).toBeNull();
    const result = analyzeSip(Buffer.from('INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n'), ctx(3));
    expect(result?.observations).toEqual([]);
    expect(result?.malformed).toEqual([{ protocol: 'sip', reason: expect.stringMatching(/name:/), ref: { file: 0, frames: [3] } }]);
  });
});

describe('addressOfRecord', () => {
  it.each([
    ['Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl', 'sips:bob@biloxi.example.com'],
    ['<sip:8001@192.0.2.10;transport=udp>', 'sip:8001@192.0.2.10'],
    ['sip:carol@chicago.com;tag=887s', 'sip:carol@chicago.com'],
    ['"A <weird> name" <sip:a@b.example?subject=x>', 'sip:a@b.example'],
    ['"unterminated <sip:a@b', undefined],
  ])('%s → %s', (value, expected) => {
    expect(addressOfRecord(value)).toBe(expected);
  });
});
