/**
 * Behaviour analysis as one unit: the call tracker, the RTP tracker and one accumulator per device,
 * wired together. The detection engine owns one and asks it for profiles when it finishes.
 *
 *   observe(SipObservation) ──► CallTracker ──onCallClosed──► DeviceBehaviour(uac ip), (uas ip)
 *                                   └─onMedia──► RtpTracker.expect
 *   rtpSink.packet(…) (pipeline hot path) ──► RtpTracker ──onStreamClosed──► DeviceBehaviour(src ip), (dst ip)
 *   observe(REGISTER | keep-alive | SMS …) ──► DeviceBehaviour
 *   profiles(keyOf) ──► one BehaviourProfile per device (IP-keyed state grouped under the device key)
 *
 * Accumulators are keyed by IP address: the IP→MAC binding is only final when the capture ends, so
 * the detection engine passes `keyOf` to group them then. Every table is bounded (config limits).
 */
import type { Observation } from '../protocols/types.js';
import type { RtpPacketSink } from '../capture/pipeline.js';
import type { BehaviourConfig, BehaviourProfile, CallRecord, CallTrackerStats, RtpTrackerStats } from './types.js';
import { CallTracker } from './calls.js';
import { RtpTracker } from './rtp.js';
import { DeviceBehaviour } from './features.js';

export interface BehaviourStats {
  calls: CallTrackerStats;
  rtp: RtpTrackerStats;
  /** Devices with behaviour state. */
  devices: number;
  /** Facts about devices not tracked because of limits.maxDevices. */
  droppedDevices: number;
}

/** Sweep the trackers' timeouts at most this often, in capture time. */
const SWEEP_EVERY_MS = 1000;

export class BehaviourEngine {
  private readonly calls: CallTracker;
  private readonly rtp: RtpTracker;
  private readonly devices = new Map<string, DeviceBehaviour>();
  private lastSweep = -Infinity;
  private droppedDevices = 0;

  constructor(readonly config: BehaviourConfig) {
    const l = config.limits;
    this.rtp = new RtpTracker({
      maxStreams: l.maxRtpStreams,
      idleTimeoutMs: l.rtpIdleMs,
      onStreamClosed: (s) => {
        this.device(s.src.ip)?.addRtp(s, 'src');
        this.device(s.dst.ip)?.addRtp(s, 'dst');
      },
      // The tracker itself is the pipeline's RTP sink (no wrapper call per packet); it calls back
      // once a second of capture time so that the call timeouts run during RTP-only stretches too.
      onTick: (ts) => this.tick(ts),
    });
    this.calls = new CallTracker({
      maxOpenCalls: l.maxOpenCalls,
      inviteTimeoutMs: l.inviteTimeoutMs,
      maxCallMs: l.maxCallMs,
      onCallClosed: (c) => this.callClosed(c),
      onMedia: (e) => this.rtp.expect(e),
    });
  }

  get stats(): BehaviourStats {
    return { calls: { ...this.calls.stats }, rtp: { ...this.rtp.stats }, devices: this.devices.size, droppedDevices: this.droppedDevices };
  }

  private device(ip: string | undefined): DeviceBehaviour | undefined {
    if (ip === undefined || ip === '' || ip === '0.0.0.0') return undefined;
    let d = this.devices.get(ip);
    if (d === undefined) {
      if (this.devices.size >= this.config.limits.maxDevices) {
        this.droppedDevices++;
        return undefined;
      }
      d = new DeviceBehaviour(`ip:${ip}`, this.config.limits);
      this.devices.set(ip, d);
    }
    return d;
  }

  private callClosed(c: CallRecord): void {
    this.device(c.uac.ip)?.addCall(c, 'uac');
    this.device(c.uas.ip)?.addCall(c, 'uas');
  }

  private tick(ts: number): void {
    if (ts - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = ts;
    this.calls.sweep(ts);
    this.rtp.sweep(ts);
  }

  /** Where the capture pipeline sends RTP-looking payloads: the tracker itself. */
  get rtpSink(): RtpPacketSink {
    return this.rtp;
  }

  observe(o: Observation): void {
    this.tick(o.ts);
    switch (o.kind) {
      case 'sip':
        if (o.isRequest && o.method === 'REGISTER') {
          if (o.aor !== undefined) this.device(o.device.ip)?.addRegistration(o.aor, o.contact, o.device.port, o.ts, o.ref);
          return;
        }
        this.calls.observe(o);
        return;
      case 'goip-keepalive':
        if (o.imsi !== undefined && /^\d{6,15}$/.test(o.imsi) && !/^0+$/.test(o.imsi)) this.device(o.device.ip)?.addSim(o.channelId, o.imsi, o.ts, o.ref);
        return;
      case 'goip-sms':
        this.device(o.device.ip)?.addSms(o.channelId, o.sender, o.body, o.ts, o.ref);
        return;
      case 'ejoin-api': {
        const d = this.device(o.device.ip);
        for (const s of o.slots) if (s.imsi !== undefined && /^\d{6,15}$/.test(s.imsi)) d?.addSim(s.port, s.imsi, o.ts, o.ref);
        for (const m of o.sms) d?.addSms(m.port, m.from, m.text, o.ts, o.ref);
        return;
      }
      case 'ami':
        if (o.imsi !== undefined) this.device(o.device.ip)?.addSim(o.gsmPort ?? '', o.imsi, o.ts, o.ref);
        if (o.event !== undefined && o.smsText !== undefined) this.device(o.device.ip)?.addSms(o.gsmPort ?? '', o.smsSender ?? '', o.smsText, o.ts, o.ref);
        return;
      case 'dinstar-api':
        if (o.from === 'gateway' && o.smsSender !== undefined && o.smsText !== undefined) {
          this.device(o.device.ip)?.addSms(o.port !== undefined ? String(o.port) : '', o.smsSender, o.smsText, o.ts, o.ref);
        }
        return;
      case 'smtp-sms':
        if (o.text !== undefined) this.device(o.device.ip)?.addSms(o.channel ?? '', o.smsSender ?? '', o.text, o.ts, o.ref);
        return;
      default:
        return;
    }
  }

  /** End of input (replay): close every open call and stream so they count as what they were. */
  flush(): void {
    this.calls.flush();
    this.rtp.flush();
  }

  /**
   * One profile per device, without changing any state (a live probe asks again and again).
   * `keyOf(ip)` names the device an address belongs to (`mac:…` once its MAC is known, else `ip:…`);
   * accumulators of one device are merged into a fresh one. Calls still open are included as
   * snapshots.
   */
  profiles(keyOf: (ip: string) => string = (ip) => `ip:${ip}`): BehaviourProfile[] {
    const open = new Map<string, Array<{ call: CallRecord; role: 'uac' | 'uas' }>>();
    const addOpen = (key: string, call: CallRecord, role: 'uac' | 'uas') => {
      const list = open.get(key) ?? [];
      list.push({ call, role });
      open.set(key, list);
    };
    for (const c of this.calls.snapshot()) {
      addOpen(keyOf(c.uac.ip), c, 'uac');
      addOpen(keyOf(c.uas.ip), c, 'uas');
    }
    const groups = new Map<string, DeviceBehaviour[]>();
    for (const [ip, d] of this.devices) {
      const key = keyOf(ip);
      const list = groups.get(key) ?? [];
      list.push(d);
      groups.set(key, list);
    }
    const out: BehaviourProfile[] = [];
    for (const [key, list] of groups) {
      let acc: DeviceBehaviour;
      if (list.length === 1) acc = list[0]!;
      else {
        acc = new DeviceBehaviour(key, this.config.limits);
        for (const d of list) acc.mergeFrom(d);
      }
      const p = acc.profile(this.config, open.get(key));
      out.push({ ...p, device: key });
    }
    return out.sort((a, b) => b.score - a.score || a.device.localeCompare(b.device));
  }
}
