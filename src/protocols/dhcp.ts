/**
 * DHCP (RFC 2131 over the BOOTP layout of RFC 951, options RFC 2132). A GoIP asks for an address
 * with vendor class `dbl` (option 60) from a `38:3f:10` MAC (goip-protocols.md §1.2, NiceLabs
 * startup.pcap frames 1-4), so the client side of the exchange is what matters here.
 *
 *   0      1      2      3      4          8      10     12       16       20       24       28        44    108   236     240
 *   op     htype  hlen   hops   xid        secs   flags  ciaddr   yiaddr   siaddr   giaddr   chaddr    sname file  cookie  options...
 *
 * The caller sends UDP 67/68 here. Nothing from the payload Buffer is kept (the capture layer
 * reuses it): every field is copied out as a string or number.
 */
import type { AnalyzerResult, DhcpObservation, Endpoint, PacketContext } from './types.js';

const PROTOCOL = 'dhcp';

/** Fixed BOOTP header length; the magic cookie follows it (RFC 2131 §3). */
const BOOTP_HEADER = 236;
const MAGIC_COOKIE = 0x63825363;

const OPT_PAD = 0;
const OPT_HOST_NAME = 12;
const OPT_REQUESTED_IP = 50;
const OPT_MESSAGE_TYPE = 53;
const OPT_PARAM_REQUEST_LIST = 55;
const OPT_VENDOR_CLASS = 60;
const OPT_CLIENT_ID = 61;
const OPT_END = 255;

/** The options this analyzer reads, as they end up in the observation. */
type DhcpOptions = Partial<Pick<DhcpObservation, 'messageType' | 'vendorClass' | 'hostname' | 'requestedIp' | 'paramRequestList' | 'clientId'>>;

function malformed(reason: string, ctx: PacketContext): AnalyzerResult {
  return { observations: [], malformed: [{ protocol: PROTOCOL, reason, ref: ctx.ref }] };
}

function ipv4(b: Buffer, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** Lowercase colon form, as Wireshark prints it (`38:3f:10:05:d7:9d`). */
function hexColon(b: Buffer, off: number, len: number): string {
  const parts: string[] = [];
  for (let i = off; i < off + len; i++) parts.push(b[i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** Text options (host name, vendor class) are sometimes NUL-terminated by the client: drop the NULs. */
function optionText(b: Buffer, off: number, len: number): string {
  let end = off + len;
  while (end > off && b[end - 1] === 0) end--;
  return b.toString('utf8', off, end);
}

export function analyzeDhcp(payload: Buffer, ctx: PacketContext): AnalyzerResult | null {
  if (payload.length < BOOTP_HEADER + 4) return malformed('shorter than a BOOTP header and cookie', ctx);
  const op = payload[0]!;
  if (op !== 1 && op !== 2) return malformed('op is neither request nor reply', ctx);
  // chaddr is 16 bytes; hlen says how much of it is the hardware address (6 for Ethernet).
  const hlen = payload[2]!;
  if (hlen === 0 || hlen > 16) return malformed('hardware address length out of range', ctx);
  // A BOOTP datagram without the cookie carries no DHCP options to read (RFC 2131 §3).
  if (payload.readUInt32BE(BOOTP_HEADER) !== MAGIC_COOKIE) return malformed('no DHCP magic cookie', ctx);

  const ciaddr = ipv4(payload, 12);
  const yiaddr = ipv4(payload, 16);
  const mac = hexColon(payload, 28, hlen);
  const found: DhcpOptions = {};

  // Options are code, length, value; 0 is a one-byte pad and 255 ends the list (RFC 2132 §3).
  // Option 52 (overload: more options in sname/file) is not followed: the fields we read are
  // always in the main area for the clients we care about, and following it only adds attack surface.
  let off = BOOTP_HEADER + 4;
  while (off < payload.length) {
    const code = payload[off]!;
    if (code === OPT_END) break;
    if (code === OPT_PAD) {
      off++;
      continue;
    }
    if (off + 1 >= payload.length) return malformed('option length missing', ctx);
    const len = payload[off + 1]!;
    const value = off + 2;
    if (value + len > payload.length) return malformed('option overruns the datagram', ctx);
    switch (code) {
      case OPT_MESSAGE_TYPE:
        if (len !== 1) return malformed('message type option is not 1 byte', ctx);
        found.messageType = payload[value]!;
        break;
      case OPT_REQUESTED_IP:
        if (len !== 4) return malformed('requested IP option is not 4 bytes', ctx);
        found.requestedIp = ipv4(payload, value);
        break;
      case OPT_HOST_NAME:
        found.hostname = optionText(payload, value, len);
        break;
      case OPT_VENDOR_CLASS:
        found.vendorClass = optionText(payload, value, len);
        break;
      case OPT_PARAM_REQUEST_LIST:
        found.paramRequestList = [...payload.subarray(value, value + len)];
        break;
      case OPT_CLIENT_ID:
        // Usually hardware type 1 + the MAC again (RFC 2132 §9.14); kept as hex since it may be anything.
        if (len > 0) found.clientId = hexColon(payload, value, len);
        break;
    }
    off = value + len;
  }

  const base = { kind: 'dhcp' as const, ts: ctx.ts, ref: ctx.ref, clientMac: mac, ...found };
  if (op === 1) {
    // Client → server: the address the client has (ciaddr, RFC 2131 §4.4.5 renewals), else the one
    // it asks for, else whatever it sends from (0.0.0.0 while it has none).
    const ip = ciaddr !== '0.0.0.0' ? ciaddr : found.requestedIp ?? ctx.src.ip;
    const obs: DhcpObservation = { ...base, device: { ip, mac }, peer: ctx.dst };
    return { observations: [obs] };
  }
  // Server → client: the device is the client being given yiaddr. A NAK or an INFORM answer has
  // yiaddr 0, so fall back to ciaddr, then to the address the reply was sent to.
  const obs: DhcpObservation = { ...base, device: { ip: deviceIpOfReply(yiaddr, ciaddr, ctx.dst), mac }, peer: ctx.src };
  if (yiaddr !== '0.0.0.0') obs.yourIp = yiaddr;
  return { observations: [obs] };
}

function deviceIpOfReply(yiaddr: string, ciaddr: string, dst: Endpoint): string {
  if (yiaddr !== '0.0.0.0') return yiaddr;
  if (ciaddr !== '0.0.0.0') return ciaddr;
  return dst.ip;
}
