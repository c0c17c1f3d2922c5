/**
 * DHCP analyzer. The real vectors are the UDP payloads of NiceLabs startup.pcap frames 1-4
 * (/work/shared/external/nicelabs-goip, extracted with `tshark -T fields -e udp.payload`), written
 * as hex with runs of zero bytes given as counts so the 548-byte datagrams stay readable; each
 * test checks the rebuilt length against the capture. Facts: goip-protocols.md §1.2.
 */
import { describe, expect, it } from 'vitest';
import { analyzeDhcp } from '../../src/protocols/dhcp.js';
import type { AnalyzerResult, DhcpObservation, Endpoint, PacketContext } from '../../src/protocols/types.js';

/** Hex strings and runs of zero bytes (numbers), concatenated. */
function bytes(...parts: Array<string | number>): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.alloc(p) : Buffer.from(p, 'hex'))));
}

const CLIENT: Endpoint = { ip: '0.0.0.0', port: 68, mac: '38:3f:10:05:d7:9d' };
const BROADCAST: Endpoint = { ip: '255.255.255.255', port: 67 };
const ROUTER: Endpoint = { ip: '192.168.1.1', port: 67, mac: '30:b6:4f:2a:31:70' };
const LEASED: Endpoint = { ip: '192.168.1.31', port: 68, mac: '38:3f:10:05:d7:9d' };

function ctx(src: Endpoint, dst: Endpoint, frame: number): PacketContext {
  return { src, dst, transport: 'udp', ts: 1_586_664_900_000 + frame, ref: { file: 0, frames: [frame] } };
}

function only(result: AnalyzerResult | null): DhcpObservation {
  expect(result?.malformed).toBeUndefined();
  expect(result?.observations).toHaveLength(1);
  return result!.observations[0] as DhcpObservation;
}

// startup.pcap frame 1: DHCP Discover from the GoIP (op 1, chaddr 38:3f:10:05:d7:9d, options 53/61/60/55).
const DISCOVER = bytes(
  '010106005626ae4c', 20, '383f1005d79d', 202,
  '638253633501013d0701383f1005d79d3c0364626c37090103060c0f1c4278a6ff', 279,
);
// startup.pcap frame 2: DHCP Offer of 192.168.1.31 from 192.168.1.1.
const OFFER = bytes(
  '020106005626ae4c', 8, 'c0a8011f', 8, '383f1005d79d', 202,
  '638253633501023304000151800104ffffff003604c0a801010304c0a801010604c0a80101ff00',
);
// startup.pcap frame 3: DHCP Request for 192.168.1.31 (option 50) with server id 192.168.1.1 (54).
const REQUEST = bytes(
  '010106005626ae4c', 20, '383f1005d79d', 202,
  '638253633501033d0701383f1005d79d3c0364626c3204c0a8011f3604c0a8010137090103060c0f1c4278a6ff', 267,
);
// startup.pcap frame 4: DHCP ACK.
const ACK = bytes(
  '020106005626ae4c', 8, 'c0a8011f', 8, '383f1005d79d', 202,
  '638253633501053304000151800104ffffff003604c0a801010304c0a801010604c0a80101ff00',
);

const GOIP_PARAMS = [1, 3, 6, 12, 15, 28, 66, 120, 166];

describe('DHCP from a booting GoIP (NiceLabs startup.pcap)', () => {
  it('rebuilds the capture payloads at their captured lengths', () => {
    expect([DISCOVER.length, OFFER.length, REQUEST.length, ACK.length]).toEqual([548, 275, 548, 275]);
  });

  it('reads the vendor class dbl, the MAC and the parameter list of a Discover (frame 1)', () => {
    const obs = only(analyzeDhcp(DISCOVER, ctx(CLIENT, BROADCAST, 1)));
    expect(obs).toMatchObject({
      kind: 'dhcp', messageType: 1, clientMac: '38:3f:10:05:d7:9d', vendorClass: 'dbl',
      paramRequestList: GOIP_PARAMS, clientId: '01:38:3f:10:05:d7:9d',
    });
    // No address yet and none requested: the device is known by the address it sends from.
    expect(obs.device).toEqual({ ip: '0.0.0.0', mac: '38:3f:10:05:d7:9d' });
    expect(obs.peer).toEqual(BROADCAST);
    expect(obs).not.toHaveProperty('requestedIp');
    expect(obs).not.toHaveProperty('yourIp');
    expect(obs.ref).toEqual({ file: 0, frames: [1] });
  });

  it('places a Request at the address it asks for (frame 3)', () => {
    const obs = only(analyzeDhcp(REQUEST, ctx(CLIENT, BROADCAST, 3)));
    expect(obs).toMatchObject({ messageType: 3, requestedIp: '192.168.1.31', vendorClass: 'dbl' });
    expect(obs.device).toEqual({ ip: '192.168.1.31', mac: '38:3f:10:05:d7:9d' });
  });

  it.each([
    { name: 'Offer', frame: 2, payload: OFFER, messageType: 2 },
    { name: 'ACK', frame: 4, payload: ACK, messageType: 5 },
  ])('says a server $name is about the client at yiaddr (frame $frame)', ({ frame, payload, messageType }) => {
    const obs = only(analyzeDhcp(payload, ctx(ROUTER, LEASED, frame)));
    expect(obs).toMatchObject({ messageType, yourIp: '192.168.1.31', clientMac: '38:3f:10:05:d7:9d' });
    expect(obs.device).toEqual({ ip: '192.168.1.31', mac: '38:3f:10:05:d7:9d' });
    expect(obs.peer).toEqual(ROUTER);
    expect(obs).not.toHaveProperty('vendorClass');
  });
});

describe('DHCP fields not in the capture (synthetic, RFC 2131/2132)', () => {
  /** A BOOTP header for op with ciaddr, yiaddr and an Ethernet chaddr, then the cookie and options. */
  function message(op: number, ciaddr: string, yiaddr: string, options: string): Buffer {
    return bytes(`0${op}0106001234567800000000`, ciaddr, yiaddr, 8, '383f1005d79d', 202, '63825363', options);
  }

  it('reads a host name and drops its NUL terminator', () => {
    const obs = only(analyzeDhcp(message(1, '00000000', '00000000', '3501030c06676f69702d3100ff'), ctx(CLIENT, BROADCAST, 9)));
    expect(obs.hostname).toBe('goip-1');
  });

  it('prefers ciaddr over the requested IP for a renewing client', () => {
    const payload = message(1, 'c0a80120', '00000000', '3501033204c0a8011fff');
    const obs = only(analyzeDhcp(payload, ctx({ ip: '192.168.1.32', port: 68 }, ROUTER, 9)));
    expect(obs.device.ip).toBe('192.168.1.32');
    expect(obs.requestedIp).toBe('192.168.1.31');
  });

  it('falls back to the destination for a NAK that has no yiaddr', () => {
    const obs = only(analyzeDhcp(message(2, '00000000', '00000000', '350106ff'), ctx(ROUTER, BROADCAST, 9)));
    expect(obs.messageType).toBe(6);
    expect(obs.device).toEqual({ ip: '255.255.255.255', mac: '38:3f:10:05:d7:9d' });
    expect(obs).not.toHaveProperty('yourIp');
  });

  it('accepts options that end without an End option', () => {
    const obs = only(analyzeDhcp(message(1, '00000000', '00000000', '3501013c03646271'), ctx(CLIENT, BROADCAST, 9)));
    expect(obs.vendorClass).toBe('dbq');
  });
});

describe('malformed DHCP', () => {
  it.each([
    { name: 'a datagram shorter than the header', payload: DISCOVER.subarray(0, 200), reason: 'shorter than a BOOTP header and cookie' },
    { name: 'a BOOTP message without the magic cookie', payload: bytes(DISCOVER.subarray(0, 236).toString('hex'), '00000000ff'), reason: 'no DHCP magic cookie' },
    { name: 'an option running past the end', payload: bytes(DISCOVER.subarray(0, 240).toString('hex'), '3501013c0964'), reason: 'option overruns the datagram' },
    { name: 'an option without its length byte', payload: bytes(DISCOVER.subarray(0, 240).toString('hex'), '350101', '3c'), reason: 'option length missing' },
    { name: 'a 2-byte message type', payload: bytes(DISCOVER.subarray(0, 240).toString('hex'), '35020101ff'), reason: 'message type option is not 1 byte' },
    { name: 'a 3-byte requested IP', payload: bytes(DISCOVER.subarray(0, 240).toString('hex'), '3203c0a801ff'), reason: 'requested IP option is not 4 bytes' },
    { name: 'op 3', payload: bytes('03', DISCOVER.subarray(1).toString('hex')), reason: 'op is neither request nor reply' },
    { name: 'a hardware address longer than chaddr', payload: bytes('010111', DISCOVER.subarray(3).toString('hex')), reason: 'hardware address length out of range' },
  ])('reports $name', ({ payload, reason }) => {
    const result = analyzeDhcp(payload, ctx(CLIENT, BROADCAST, 1));
    expect(result?.observations).toEqual([]);
    expect(result?.malformed).toEqual([{ protocol: 'dhcp', reason, ref: { file: 0, frames: [1] } }]);
  });

  it('never throws on truncations of the capture frames or random bytes', () => {
    for (const frame of [DISCOVER, REQUEST, OFFER]) {
      for (let len = 0; len <= 340; len++) expect(analyzeDhcp(frame.subarray(0, len), ctx(CLIENT, BROADCAST, 1))).not.toBeNull();
    }
    let seed = 7;
    for (let i = 0; i < 500; i++) {
      const payload = Buffer.from(DISCOVER);
      // Corrupt the option area only, where the parser walks lengths.
      for (let j = 240; j < 300; j++) payload[j] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
      expect(analyzeDhcp(payload, ctx(CLIENT, BROADCAST, 1))).not.toBeNull();
    }
  });
});
