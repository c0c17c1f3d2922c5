/** SIP samples shared by several tests, each naming where its text comes from. */

/** Text with LF line ends turned into the CRLF that SIP requires (RFC 3261 §7). */
export const crlf = (text: string): Buffer => Buffer.from(text.replace(/\n/g, '\r\n'), 'utf8');

/** RFC 3665 §3.1, F1 INVITE Alice -> Bob over TCP, with its 151-byte SDP offer (Content-Length: 151). */
export const RFC3665_INVITE = crlf(`INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 INVITE
Contact: <sip:alice@client.atlanta.example.com;transport=tcp>
Content-Type: application/sdp
Content-Length: 151

v=0
o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com
s=-
c=IN IP4 192.0.2.101
t=0 0
m=audio 49172 RTP/AVP 0
a=rtpmap:0 PCMU/8000
`);

/** RFC 3261 §24.1, F1 REGISTER Bob -> Registrar. */
export const RFC3261_REGISTER = crlf(`REGISTER sip:registrar.biloxi.com SIP/2.0
Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7
Max-Forwards: 70
To: Bob <sip:bob@biloxi.com>
From: Bob <sip:bob@biloxi.com>;tag=456248
Call-ID: 843817637684230@998sdasdh09
CSeq: 1826 REGISTER
Contact: <sip:bob@192.0.2.4>
Expires: 7200
Content-Length: 0

`);

/**
 * A GoIP-shaped SDP offer, LF line ends (callers convert): built from goip-protocols.md §1.4 and §4
 * [RE] — origin template `userX 20000001`, codec order 8 0 18 4, DTMF 101, ptime 20.
 */
export const GOIP_SDP_OFFER = `v=0
o=userX 20000001 20000001 IN IP4 192.168.1.30
s=DBL Session
c=IN IP4 192.168.1.30
t=0 0
m=audio 10000 RTP/AVP 8 0 18 4 101
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
`;
