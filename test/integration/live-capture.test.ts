/**
 * Live capture through libpcap on the loopback interface, with real datagrams: a GoIP keep-alive
 * (goip-protocols.md §1.1.1, the official EN PDF example) sent on 127.0.0.1 is seen by the same
 * pipeline that reads files. Needs CAP_NET_RAW (CI runs as root; the probe gets it from systemd).
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { LiveCapture } from '../../src/capture/live-source.js';
import { CapturePipeline } from '../../src/capture/pipeline.js';
import type { Observation } from '../../src/protocols/types.js';

describe('live capture', () => {
  it('sees a GoIP keep-alive sent on loopback, with a BPF filter, and reports kernel counters', async () => {
    const obs: Observation[] = [];
    const pipeline = new CapturePipeline((o) => obs.push(o));
    const port = 40000 + Math.floor(Math.random() * 20000);
    const live = new LiveCapture({ iface: 'lo', filter: `udp and port ${port}`, bufferBytes: 1 << 20 });
    live.start((f) => pipeline.frame(f));
    try {
      const sock = createSocket('udp4');
      const msg = Buffer.from('req:10;id:goipid1;pass:password1;num:12345;signal:23;gsm_status:LOGIN;voip_status:LOGIN;');
      for (let i = 0; i < 20 && !obs.some((o) => o.kind === 'goip-keepalive'); i++) {
        // The same datagram to a port outside the filter must not reach the pipeline.
        await new Promise<void>((r) => sock.send(msg, port + 1, '127.0.0.1', () => r()));
        await new Promise<void>((r) => sock.send(msg, port, '127.0.0.1', () => r()));
        await new Promise((r) => setTimeout(r, 100));
      }
      sock.close();
      const ka = obs.find((o) => o.kind === 'goip-keepalive');
      expect(ka).toMatchObject({ channelId: 'goipid1', device: { ip: '127.0.0.1' } });
      const stats = live.stats();
      expect(stats.frames).toBeGreaterThan(0);
      expect(stats.received).toBeGreaterThanOrEqual(stats.frames);
      // Only our port passed the BPF filter.
      expect(obs.filter((o) => o.kind === 'goip-keepalive').every((o) => o.peer?.port === port)).toBe(true);
    } finally {
      live.stop();
    }
  }, 30_000);
});
