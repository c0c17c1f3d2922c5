/**
 * RTP tracker state and hot-path cost (issue 5): memory of 20,000 concurrent calls (40,000 streams,
 * both directions) and the cost of one RtpTracker.rtp() call (the pipeline's per-packet call).
 *
 *   per run: new RtpTracker ─► expect() per stream destination (both SDPs of every call, unless --no-sdp)
 *            ─► ticks of 20 ms: every stream sends one packet (SSRC fixed, seq +1, timestamp +160,
 *               arrival = tick·20 ms + a per-stream phase + ±1 ms jitter, G.711 160-byte payload)
 *               as the pipeline would: IP addresses and RTP header written into one reused frame
 *               buffer (libpcap copies every record into one buffer, so it is always in cache), then
 *               rtp() (its clock filled first). Timed per tick; the same loop with the writes only is the baseline.
 *            ─► check: every stream qualified and open, nothing rejected or dropped
 *   run 1 also measures process.memoryUsage() (after global.gc when --expose-gc) before and after.
 *
 *   node --expose-gc dist/bench/rtp-state-bench.js [--calls 20000] [--packets 50] [--runs 5] [--no-sdp]
 *
 * SYNTHETIC input built here; timings are medians, printed, never asserted. Target (issue): RSS
 * under 200 MB with 20,000 concurrent calls.
 */
import { Rng } from '../src/modems/simulator/random.js';
import { RtpTracker } from '../src/behaviour/rtp.js';
import type { MediaExpectation } from '../src/behaviour/types.js';

const TARGET_RSS_MB = 200;
const PAYLOAD = 160;
const PKT = 12 + PAYLOAD;

interface Options {
  calls: number;
  packets: number;
  runs: number;
  sdp: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { calls: 20_000, packets: 50, runs: 5, sdp: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const int = (v: string | undefined): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a} needs a positive integer`);
      return n;
    };
    if (a === '--calls') o.calls = int(argv[++i]);
    else if (a === '--packets') o.packets = int(argv[++i]);
    else if (a === '--runs') o.runs = int(argv[++i]);
    else if (a === '--no-sdp') o.sdp = false;
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node --expose-gc dist/bench/rtp-state-bench.js [--calls 20000] [--packets 50] [--runs 5] [--no-sdp]\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  if (o.packets < 3) throw new Error('--packets must be at least 3 (probation plus one)');
  return o;
}

/** mulberry32 (the simulator's seeded Rng), so every run feeds the same bytes. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/**
 * The site: 625 GoIP-32 gateways 192.168.10.0/… (32 lines each) talking to one media relay
 * 203.0.113.11. Call c uses gateway port 10000 + 2·line and relay port 20000 + 2·(c mod 20000) on
 * relay address 203.0.113.(11 + c div 20000). Stream 2c is gateway → relay, 2c+1 relay → gateway.
 */
interface Site {
  streams: number;
  ssrc: Int32Array;
  /** Per stream: source and destination IPv4 address. */
  src: Int32Array;
  dst: Int32Array;
  sport: Uint16Array;
  dport: Uint16Array;
  phaseMs: Float64Array;
  seq0: Uint16Array;
  ts0: Uint32Array;
  expectations: MediaExpectation[];
}

function buildSite(calls: number): Site {
  const n = calls * 2;
  const r = rng(1);
  const s: Site = {
    streams: n, ssrc: new Int32Array(n), src: new Int32Array(n), dst: new Int32Array(n),
    sport: new Uint16Array(n), dport: new Uint16Array(n), phaseMs: new Float64Array(n),
    seq0: new Uint16Array(n), ts0: new Uint32Array(n), expectations: [],
  };
  const ip = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  for (let c = 0; c < calls; c++) {
    const gw = Math.floor(c / 32);
    const line = c % 32;
    const gwIp = ip(192, 168, 10 + (gw >> 8), gw & 255);
    const relayIp = ip(203, 0, 113, 11 + Math.floor(c / 20000));
    const gwPort = 10000 + 2 * line;
    const relayPort = 20000 + 2 * (c % 20000);
    const phase = r() * 20;
    for (const dir of [0, 1]) {
      const i = 2 * c + dir;
      s.src[i] = dir === 0 ? gwIp : relayIp;
      s.dst[i] = dir === 0 ? relayIp : gwIp;
      s.sport[i] = dir === 0 ? gwPort : relayPort;
      s.dport[i] = dir === 0 ? relayPort : gwPort;
      s.phaseMs[i] = phase + dir * 0.3;
      s.seq0[i] = Math.floor(r() * 65536);
      s.ts0[i] = Math.floor(r() * 2 ** 32);
      s.ssrc[i] = Math.floor(r() * 2 ** 32);
      const dstIp = dir === 0 ? relayIp : gwIp;
      s.expectations.push({
        ip: `${dstIp >>> 24}.${(dstIp >>> 16) & 255}.${(dstIp >>> 8) & 255}.${dstIp & 255}`, port: s.dport[i]!,
        callId: `bench-${c}@203.0.113.10`, payloads: [{ pt: 8, codec: 'PCMA', clockRate: 8000 }, { pt: 101, codec: 'telephone-event', clockRate: 8000 }],
        ptimeMs: 20, ts: 0,
      });
    }
  }
  return s;
}

interface RunResult {
  /** ns per packet (header writes + rtp()) over all ticks (stream opening included). */
  nsAll: number;
  /** The same from the third tick on (every stream past probation). */
  nsSteady: number;
  /** The same loop writing the headers without calling rtp(). */
  nsBaseline: number;
  sweepUs: number;
  open: number;
  streams: number;
  rejected: number;
  droppedAtCap: number;
  memory?: { before: NodeJS.MemoryUsage; after: NodeJS.MemoryUsage };
}

const gc = (globalThis as { gc?: () => void }).gc;
function settle(): NodeJS.MemoryUsage {
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage();
}

/**
 * The pipeline keeps its current frame's time in a field (this.curTs) and copies it, with the file
 * and frame number, into the sink's clock before calling rtp(); so does feedTick.
 */
const cur = { ts: 0 };

/**
 * One tick: for every stream, write its addresses and RTP header into the one frame buffer, then
 * rtp() (or, without a tracker, only the writes: the baseline). Kept small so that V8 optimises
 * it on its own; the writes are inline (a helper function was not inlined and cost more than they do).
 */
function feedTick(tracker: RtpTracker | undefined, site: Site, frame: Buffer, arrival: Float64Array, tick: number): number {
  const { ssrc, src, dst, sport, dport, seq0, ts0 } = site;
  const n = site.streams;
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const a = src[i]!;
    const d = dst[i]!;
    const x = ssrc[i]!;
    const seq = (seq0[i]! + tick) & 0xffff;
    const ts = (ts0[i]! + tick * 160) | 0;
    frame[26] = a >>> 24; frame[27] = a >>> 16; frame[28] = a >>> 8; frame[29] = a;
    frame[30] = d >>> 24; frame[31] = d >>> 16; frame[32] = d >>> 8; frame[33] = d;
    frame[44] = seq >>> 8; frame[45] = seq;
    frame[46] = ts >>> 24; frame[47] = ts >>> 16; frame[48] = ts >>> 8; frame[49] = ts;
    frame[50] = x >>> 24; frame[51] = x >>> 16; frame[52] = x >>> 8; frame[53] = x;
    cur.ts = arrival[i]!;
    if (tracker) {
      const clock = tracker.clock;
      clock[0] = cur.ts;
      clock[1] = 0;
      clock[2] = tick * n + i + 1;
      tracker.rtp(frame, 42, 42 + PKT, 4, frame, 26, 30, sport[i]!, dport[i]!);
    }
    else sink += frame[45]! + sport[i]! + dport[i]! + cur.ts;
  }
  return sink;
}

function run(site: Site, o: Options, measureMemory: boolean): RunResult {
  const t0 = 1_700_000_000_000;
  const before = measureMemory ? settle() : undefined;
  let closed = 0;
  const tracker = new RtpTracker({ maxStreams: 100_000, onStreamClosed: () => { closed++; } });
  if (o.sdp) for (const e of site.expectations) tracker.expect({ ...e, ts: t0 });
  const r = rng(2);
  const arrival = new Float64Array(site.streams);
  // The frame: 14 Ethernet + 20 IPv4 (addresses at 26, 30) + 8 UDP, then the RTP packet at 42.
  const frame = Buffer.alloc(42 + PKT, 0xd5);
  frame[42] = 0x80;
  frame[43] = 8; // PCMA
  let nsAll = 0;
  let nsSteady = 0;
  let nsBase = 0;
  let sink = 0;
  for (let tick = 0; tick < o.packets; tick++) {
    for (let i = 0; i < site.streams; i++) arrival[i] = t0 + tick * 20 + site.phaseMs[i]! + (r() * 2 - 1);
    let start = process.hrtime.bigint();
    sink += feedTick(undefined, site, frame, arrival, tick);
    nsBase += Number(process.hrtime.bigint() - start);
    start = process.hrtime.bigint();
    feedTick(tracker, site, frame, arrival, tick);
    const ns = Number(process.hrtime.bigint() - start);
    nsAll += ns;
    if (tick >= 2) nsSteady += ns;
  }
  if (sink === -1) process.stderr.write('');
  const now = t0 + o.packets * 20;
  const sw = process.hrtime.bigint();
  tracker.sweep(now);
  const sweepUs = Number(process.hrtime.bigint() - sw) / 1000;
  const after = measureMemory ? settle() : undefined;
  const res: RunResult = {
    nsAll: nsAll / (o.packets * site.streams),
    nsSteady: nsSteady / ((o.packets - 2) * site.streams),
    nsBaseline: nsBase / (o.packets * site.streams),
    sweepUs, open: tracker.stats.open, streams: tracker.stats.streams,
    rejected: tracker.stats.rejected, droppedAtCap: tracker.stats.droppedAtCap,
  };
  if (before && after) res.memory = { before, after };
  tracker.flush();
  if (closed !== res.open) throw new Error(`flush reported ${closed} streams, ${res.open} were open`);
  return res;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function main(): number {
  const o = parseArgs(process.argv.slice(2));
  const site = buildSite(o.calls);
  const results: RunResult[] = [];
  for (let i = 0; i < o.runs; i++) {
    const r = run(site, o, i === 0);
    if (r.open !== site.streams || r.rejected !== 0 || r.droppedAtCap !== 0) {
      process.stderr.write(`bench: run ${i + 1} tracked the wrong thing: open ${r.open} of ${site.streams}, rejected ${r.rejected}, dropped ${r.droppedAtCap}\n`);
      return 1;
    }
    results.push(r);
    process.stderr.write(`bench: run ${i + 1}: ${r.nsAll.toFixed(1)} ns/packet (steady ${r.nsSteady.toFixed(1)}, baseline ${r.nsBaseline.toFixed(1)}), sweep ${r.sweepUs.toFixed(0)} µs\n`);
  }
  const mem = results[0]!.memory!;
  const MB = (n: number): number => Math.round((n / 1e6) * 10) / 10;
  const out = {
    bench: 'rtp-state',
    node: process.version,
    gcExposed: gc !== undefined,
    calls: o.calls,
    streams: site.streams,
    packetsPerStream: o.packets,
    sdp: o.sdp,
    runs: o.runs,
    rssBeforeMB: MB(mem.before.rss),
    rssAfterMB: MB(mem.after.rss),
    heapUsedBeforeMB: MB(mem.before.heapUsed),
    heapUsedAfterMB: MB(mem.after.heapUsed),
    heapBytesPerStream: Math.round((mem.after.heapUsed - mem.before.heapUsed) / site.streams),
    externalBeforeMB: MB(mem.before.external),
    externalAfterMB: MB(mem.after.external),
    streamsOpen: results[0]!.open,
    nsPerPacket: Math.round(median(results.map((r) => r.nsAll)) * 10) / 10,
    nsPerPacketSteady: Math.round(median(results.map((r) => r.nsSteady)) * 10) / 10,
    nsBaselineWritesOnly: Math.round(median(results.map((r) => r.nsBaseline)) * 10) / 10,
    sweepUs: Math.round(median(results.map((r) => r.sweepUs))),
    targetRssMB: TARGET_RSS_MB,
    rssTargetMet: mem.after.rss / 1e6 < TARGET_RSS_MB,
  };
  const lines = [
    `rtp-state bench: ${o.calls} concurrent calls = ${site.streams} streams, ${o.packets} packets each (20 ms, G.711), SDP ${o.sdp ? 'announced' : 'not announced (heuristic)'}, ${o.runs} runs, node ${process.version}${gc ? '' : ' (no --expose-gc: memory not settled)'}`,
    `memory     RSS ${out.rssBeforeMB} MB → ${out.rssAfterMB} MB, heapUsed ${out.heapUsedBeforeMB} MB → ${out.heapUsedAfterMB} MB (${out.heapBytesPerStream} B per stream incl. its expectation), external (typed arrays) ${out.externalBeforeMB} MB → ${out.externalAfterMB} MB`,
    `streams    ${out.streamsOpen} open, all qualified`,
    `rtp()      ${out.nsPerPacket} ns/packet all ticks, ${out.nsPerPacketSteady} ns/packet after probation (median of ${o.runs}; the loop without rtp() costs ${out.nsBaselineWritesOnly} ns)`,
    `sweep()    ${out.sweepUs} µs over ${site.streams} streams, none idle`,
    `target     RSS < ${TARGET_RSS_MB} MB with ${o.calls} calls: ${out.rssTargetMet ? 'met' : 'NOT met'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n${JSON.stringify(out)}\n`);
  return 0;
}

process.exitCode = main();
