import { it } from 'vitest';
import { TcpReassembler, type TcpSegment } from '/work/main/src/capture/tcp-reassembly.js';
import { Ipv4Reassembler } from '/work/main/src/capture/ipv4-reassembly.js';
it('bench', () => {
  for (const mode of ['take', 'ignore']) {
    let bytes = 0;
    const r = new TcpReassembler({ open: () => mode === 'take' ? { data: (_f, d) => { bytes += d.length; return true; }, close: () => undefined } : null });
    const payload = Buffer.alloc(200);
    const ips = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    const seqs = new Array(1000).fill(1);
    const seg: TcpSegment = { fileIndex: 0, srcIp: '', dstIp: '192.168.1.1', srcPort: 40000, dstPort: 5060, seq: 0, ack: 0, syn: false, fin: false, rst: false, ackFlag: true, payload, frame: 0, ts: 0 };
    const t0 = performance.now();
    const N = 2_000_000;
    for (let i = 0; i < N; i++) {
      const c = i % 1000;
      seg.srcIp = ips[c]!; seg.seq = seqs[c]!; seqs[c] = (seqs[c]! + 200) >>> 0; seg.frame = i; seg.ts = i / 1000;
      r.push(seg);
    }
    const dt = performance.now() - t0;
    console.log(mode, (N / dt * 1000 / 1e6).toFixed(2), 'M seg/s', bytes, r.stats);
  }
  const v = new Ipv4Reassembler();
  const p = Buffer.alloc(1480);
  const t0 = performance.now();
  for (let i = 0; i < 200_000; i++) { v.push(1, 2, i & 0xffff, 17, 0, true, p, i, i); v.push(1, 2, i & 0xffff, 17, 1480, false, p.subarray(0, 100), i, i); }
  console.log('ipv4 pairs/s', (200_000 / (performance.now() - t0) * 1000 / 1e6).toFixed(2), 'M', v.stats);
});
