/**
 * The detector: observations in, devices + findings + inventory out.
 *
 *   observe(o) ──► device state (by MAC when known, else IP; bounded)
 *              ──► signatures for o.kind ──► evidence (deduplicated per device and signature)
 *              ──► inventory (SIMs per channel, SMS deduplicated on resend)
 *   finish()   ──► derived observations (lines per host, DNS id reuse) ──► more evidence
 *              ──► merge IP-keyed state into MAC-keyed devices ──► score ──► findings
 *
 * Scoring: evidence is grouped by category (categories are independent of each other; two rows of
 * one category are not); the best weight per category is combined as 1 − Π(1 − w). A finding is
 * high only with two or more categories and at least one non-weak one; a single weak clue (an OUI,
 * a User-Agent) is low at most.
 */
import { createHash } from 'node:crypto';
import type { Observation, CaptureRef } from '../protocols/types.js';
import type { CompiledSignature } from './signatures.js';
import { renderSummary } from './signatures.js';
import type { Confidence, DetectionResult, Device, Evidence, Family, Finding, FindingKind, SimRecord, SmsRecord } from './model.js';
import { families } from './model.js';
import { lookupOui } from './oui.js';
import { BehaviourEngine } from '../behaviour/engine.js';
import type { BehaviourConfig, BehaviourProfile } from '../behaviour/types.js';
import type { RtpPacketSink } from '../capture/pipeline.js';

const MAX_REFS = 8;
const MAX_SET = 4096;
const MAX_FACT = 200;

/**
 * Identifiers as the inventory keeps them: only values of a plausible form (an IMEI is 14-16
 * digits, an IMSI 6-15, an ICCID 18-22 with an optional trailing F; all-zero placeholders, as
 * GoIPs send for an empty slot, are dropped). The observation keeps the raw text as evidence.
 */
export function plausibleSimFacts(f: Partial<SimRecord>): Partial<SimRecord> {
  const ok = (v: string | undefined, re: RegExp) => (v !== undefined && re.test(v) && !/^0+$/.test(v) ? v : undefined);
  return {
    imei: ok(f.imei, /^\d{14,16}$/),
    imsi: ok(f.imsi, /^\d{6,15}$/),
    iccid: ok(f.iccid?.toUpperCase(), /^\d{18,22}F?$/),
    msisdn: ok(f.msisdn, /^\+?\d{3,20}$/),
    carrier: f.carrier && f.carrier.length <= 64 ? f.carrier : undefined,
    signalDbm: f.signalDbm,
    lac: ok(f.lac, /^[0-9A-Fa-f]{1,8}$/),
    cell: ok(f.cell, /^[0-9A-Fa-f]{1,8}$/),
    smsLogin: f.smsLogin && f.smsLogin.length <= 8 ? f.smsLogin : undefined,
    smbLogin: f.smbLogin && f.smbLogin.length <= 8 ? f.smbLogin : undefined,
  };
}

interface DeviceAcc {
  rawKey: string;
  macs: Set<string>;
  ips: Set<string>;
  hostnames: Set<string>;
  vendorClasses: Set<string>;
  serials: Set<string>;
  userAgents: Set<string>;
  sipLines: Set<string>;
  channels: Set<string>;
  firstSeen: number;
  lastSeen: number;
  evidence: Map<string, Evidence>;
  /** DNS transaction id → resolvers and names asked with it (GoIP boot habit, §1.2). */
  dnsIds: Map<number, { resolvers: Set<string>; names: Set<string>; ref: CaptureRef; ts: number }>;
  lineRef?: CaptureRef;
}

export interface DetectionOptions {
  /** Cap on tracked devices (a live probe must stay bounded); further devices are counted, not tracked. */
  maxDevices?: number;
  /** Behaviour analysis (calls, RTP, SIM-farm score); off when absent or `enabled: false`. */
  behaviour?: BehaviourConfig;
}

export class DetectionEngine {
  private bySigKind = new Map<string, CompiledSignature[]>();
  private devices = new Map<string, DeviceAcc>();
  private macOfIp = new Map<string, string>();
  private sims = new Map<string, SimRecord>();
  private sms = new Map<string, SmsRecord>();
  private readonly maxDevices: number;
  /** Devices not tracked because of the cap. */
  droppedDevices = 0;
  private readonly behaviour: BehaviourEngine | undefined;

  constructor(signatures: CompiledSignature[], opts: DetectionOptions = {}) {
    for (const s of signatures) {
      const list = this.bySigKind.get(s.kind) ?? [];
      list.push(s);
      this.bySigKind.set(s.kind, list);
    }
    this.maxDevices = opts.maxDevices ?? 100_000;
    if (opts.behaviour?.enabled) this.behaviour = new BehaviourEngine(opts.behaviour);
  }

  /** Where the capture pipeline sends RTP when behaviour analysis is on (`new CapturePipeline(…, …, engine.rtpSink)`). */
  get rtpSink(): RtpPacketSink | undefined {
    return this.behaviour?.rtpSink;
  }

  /** End of input (a replay): open calls and RTP streams are closed as they stand. A live probe never calls this. */
  endOfInput(): void {
    this.behaviour?.flush();
  }

  private acc(mac: string | undefined, ip: string, ts: number): DeviceAcc | undefined {
    const known = mac ?? this.macOfIp.get(ip);
    const rawKey = known ? `mac:${known}` : `ip:${ip}`;
    let d = this.devices.get(rawKey);
    if (!d) {
      if (this.devices.size >= this.maxDevices) {
        this.droppedDevices++;
        return undefined;
      }
      d = {
        rawKey, macs: new Set(), ips: new Set(), hostnames: new Set(), vendorClasses: new Set(), serials: new Set(),
        userAgents: new Set(), sipLines: new Set(), channels: new Set(), firstSeen: ts, lastSeen: ts,
        evidence: new Map(), dnsIds: new Map(),
      };
      this.devices.set(rawKey, d);
    }
    if (known) d.macs.add(known);
    if (ip && ip !== '0.0.0.0') d.ips.add(ip);
    if (ts < d.firstSeen) d.firstSeen = ts;
    if (ts > d.lastSeen) d.lastSeen = ts;
    return d;
  }

  private bind(ip: string | undefined, mac: string | undefined): void {
    if (!ip || !mac || ip === '0.0.0.0') return;
    this.macOfIp.set(ip, mac);
  }

  observe(o: Observation): void {
    this.behaviour?.observe(o);
    this.bind(o.device.ip, o.device.mac);
    if (o.peer) this.bind(o.peer.ip, o.peer.mac);
    if (o.kind === 'dhcp') this.bind(o.yourIp ?? o.requestedIp, o.clientMac);
    const d = this.acc(o.device.mac, o.device.ip, o.ts);
    if (!d) return;
    this.collect(d, o);
    this.applySignatures(d, o.kind, o, o.ref, o.ts);
  }

  private applySignatures(d: DeviceAcc, kind: string, obs: object, ref: CaptureRef, ts: number): void {
    const sigs = this.bySigKind.get(kind);
    if (!sigs) return;
    for (const s of sigs) {
      if (!s.test(obs)) continue;
      const e = d.evidence.get(s.id);
      if (e) {
        e.count++;
        if (ts < e.firstSeen) e.firstSeen = ts;
        if (ts > e.lastSeen) e.lastSeen = ts;
        if (e.refs.length < MAX_REFS) e.refs.push({ file: ref.file, frames: ref.frames.slice(0, 16) });
        continue;
      }
      d.evidence.set(s.id, {
        signature: s.id, family: s.family, finding: s.finding, category: s.category, strength: s.strength, weight: s.weight,
        summary: renderSummary(s.summary, obs), source: s.source, count: 1, firstSeen: ts, lastSeen: ts,
        refs: [{ file: ref.file, frames: ref.frames.slice(0, 16) }],
      });
    }
  }

  /** Facts that describe the device (names, serials, lines) and the inventory. */
  private collect(d: DeviceAcc, o: Observation): void {
    // Facts are untrusted text: bounded in count and in length.
    const add = (set: Set<string>, v: string | undefined) => { if (v && set.size < MAX_SET) set.add(v.length > MAX_FACT ? `${v.slice(0, MAX_FACT)}…` : v); };
    switch (o.kind) {
      case 'dhcp': add(d.hostnames, o.hostname); add(d.vendorClasses, o.vendorClass); break;
      case 'ddns': add(d.serials, o.serial); break;
      case 'smtp-sms':
        add(d.serials, o.serial);
        if (o.text !== undefined) this.addSms(d, o.channel ?? '', o.smsSender ?? '', o.text, undefined, 'smtp', o.ts, o.ref);
        break;
      case 'sip':
        add(d.userAgents, o.userAgent ?? o.server);
        if (o.isRequest && o.method === 'REGISTER' && o.aor) {
          add(d.sipLines, o.aor);
          d.lineRef ??= o.ref;
        }
        break;
      case 'goip-keepalive':
        add(d.channels, o.channelId);
        // A keep-alive cut short (no identifiers at all) names a channel but no SIM.
        if (!o.imei && !o.imsi && !o.iccid && !o.num) break;
        this.addSim(d, o.channelId, {
          imei: o.imei, imsi: o.imsi, iccid: o.iccid, msisdn: o.num, carrier: o.carrier,
          signalDbm: o.signal !== undefined && o.signal >= 0 && o.signal <= 31 ? 2 * o.signal - 113 : undefined,
          lac: o.lac, cell: o.cell, smsLogin: o.smsLogin, smbLogin: o.smbLogin,
        }, 'goip-keepalive', o.ts, o.ref);
        break;
      case 'goip-event': add(d.channels, o.channelId); break;
      case 'goip-sms': add(d.channels, o.channelId); this.addSms(d, o.channelId, o.sender, o.body, String(o.recvId), 'goip-sms', o.ts, o.ref); break;
      case 'ejoin-api':
        add(d.macs, o.mac?.replace(/-/g, ':').toLowerCase());
        for (const s of o.slots) this.addSim(d, s.port, { imei: s.imei, imsi: s.imsi, iccid: s.iccid, carrier: s.operator }, 'ejoin-api', o.ts, o.ref);
        for (const m of o.sms) this.addSms(d, m.port, m.from, m.text, undefined, 'ejoin-api', o.ts, o.ref);
        break;
      case 'ami':
        // Only received SMS go to the inventory; texts the operator sends are outbound commands.
        if (o.event !== undefined && o.smsText !== undefined) this.addSms(d, o.gsmPort ?? '', o.smsSender ?? '', o.smsText, o.smsId, 'ami', o.ts, o.ref);
        if (o.imei || o.imsi) this.addSim(d, o.gsmPort ?? '', { imei: o.imei, imsi: o.imsi, carrier: o.networkName }, 'ami', o.ts, o.ref);
        break;
      case 'dinstar-api':
        add(d.macs, o.gatewayMac);
        if (o.from === 'gateway' && o.smsSender !== undefined && o.smsText !== undefined) {
          this.addSms(d, o.port !== undefined ? String(o.port) : '', o.smsSender, o.smsText, undefined, 'dinstar-api', o.ts, o.ref);
        }
        break;
      case 'dns-query':
        for (const name of o.names) {
          let entry = d.dnsIds.get(o.txid);
          if (!entry) {
            if (d.dnsIds.size >= 256) break;
            entry = { resolvers: new Set(), names: new Set(), ref: { file: o.ref.file, frames: [] }, ts: o.ts };
            d.dnsIds.set(o.txid, entry);
          }
          entry.resolvers.add(o.resolver);
          if (entry.names.size < 32) entry.names.add(name);
          if (entry.ref.frames.length < 16 && entry.ref.file === o.ref.file) entry.ref.frames.push(...o.ref.frames);
        }
        break;
      default:
        break;
    }
  }

  private addSim(d: DeviceAcc, channel: string, raw: Partial<SimRecord>, source: string, ts: number, ref: CaptureRef): void {
    const facts = plausibleSimFacts(raw);
    // Nothing that identifies a SIM survived validation: a channel, but no inventory row.
    if (!facts.imei && !facts.imsi && !facts.iccid && !facts.msisdn) return;
    const key = `${d.rawKey}\u0000${channel}\u0000${facts.imsi ?? ''}`;
    let sim = this.sims.get(key);
    if (!sim) {
      if (this.sims.size >= 100_000) return;
      sim = { device: d.rawKey, channel, source, firstSeen: ts, lastSeen: ts, refs: [] };
      this.sims.set(key, sim);
    }
    for (const [k, v] of Object.entries(facts)) {
      if (v !== undefined && v !== '' && !/^0+$/.test(String(v))) (sim as unknown as Record<string, unknown>)[k] = v;
    }
    if (ts < sim.firstSeen) sim.firstSeen = ts;
    if (ts > sim.lastSeen) sim.lastSeen = ts;
    if (sim.refs.length < MAX_REFS) sim.refs.push({ file: ref.file, frames: ref.frames.slice(0, 16) });
  }

  private addSms(d: DeviceAcc, channel: string, sender: string, body: string, recvId: string | undefined, source: string, ts: number, ref: CaptureRef): void {
    // Resends carry the same (channel, recvid) (goip-protocols.md §1.1.5 pitfall 7); without an id, the same text.
    const key = `${d.rawKey}\u0000${channel}\u0000${recvId ?? ''}\u0000${sender}\u0000${body}`;
    const seen = this.sms.get(key);
    if (seen) {
      seen.copies++;
      if (seen.refs.length < MAX_REFS) seen.refs.push({ file: ref.file, frames: ref.frames.slice(0, 16) });
      return;
    }
    if (this.sms.size >= 200_000) return;
    this.sms.set(key, { device: d.rawKey, channel, sender, body, recvId, source, copies: 1, ts, refs: [{ file: ref.file, frames: ref.frames.slice(0, 16) }] });
  }

  /**
   * The result so far. Works on copies of the per-device state, so it can be called again and
   * again on a live capture (the probe does, periodically) without counting anything twice.
   */
  finish(): DetectionResult {
    const snapshots = [...this.devices.values()].map(cloneAcc);
    // Derived observations: facts about a device as a whole rather than one packet.
    for (const d of snapshots) {
      if (d.sipLines.size > 0 && d.lineRef) {
        this.applySignatures(d, 'sip-lines', { count: d.sipLines.size, lines: [...d.sipLines].slice(0, 8) }, d.lineRef, d.firstSeen);
      }
      for (const [txid, e] of d.dnsIds) {
        if (e.resolvers.size < 2) continue;
        this.applySignatures(d, 'dns-txid-reuse', {
          txid: `0x${txid.toString(16).padStart(4, '0')}`, resolverCount: e.resolvers.size, nameCount: e.names.size,
          resolvers: [...e.resolvers], names: [...e.names],
        }, e.ref, e.ts);
      }
    }
    // Merge IP-keyed state into the MAC-keyed device once the IP's MAC is known.
    const merged = new Map<string, DeviceAcc>();
    const rename = new Map<string, string>();
    for (const d of snapshots) {
      let key = d.rawKey;
      if (key.startsWith('ip:')) {
        const mac = this.macOfIp.get(key.slice(3));
        if (mac) key = `mac:${mac}`;
      }
      rename.set(d.rawKey, key);
      const into = merged.get(key);
      if (!into) merged.set(key, { ...d, rawKey: key });
      else mergeInto(into, d);
    }
    const devices: Device[] = [];
    const findings: Finding[] = [];
    for (const d of merged.values()) {
      const macs = [...d.macs];
      const vendor = macs.map(lookupOui).find((v) => v !== undefined);
      devices.push({
        key: d.rawKey, macs, ips: [...d.ips], vendor: vendor?.vendor, vendorNote: vendor?.note,
        hostnames: [...d.hostnames], vendorClasses: [...d.vendorClasses], serials: [...d.serials], userAgents: [...d.userAgents],
        sipLines: [...d.sipLines], channels: [...d.channels], firstSeen: d.firstSeen, lastSeen: d.lastSeen,
      });
      for (const kind of ['voip-gsm-gateway', 'sms-server'] as FindingKind[]) {
        const f = score(d.rawKey, kind, [...d.evidence.values()].filter((e) => e.finding === kind));
        if (f) findings.push(f);
      }
    }
    let behaviour: DetectionResult['behaviour'];
    if (this.behaviour) {
      const keyOf = (ip: string) => {
        const mac = this.macOfIp.get(ip);
        return mac ? `mac:${mac}` : `ip:${ip}`;
      };
      const profiles = this.behaviour.profiles(keyOf);
      for (const p of profiles) {
        if (!p.simFarm) continue;
        const family = findings.find((f) => f.device === p.device && f.kind === 'voip-gsm-gateway')?.family ?? 'gateway';
        findings.push(simFarmFinding(p, family, this.behaviour.config));
      }
      behaviour = { profiles, stats: this.behaviour.stats };
    }
    const reKey = <T extends { device: string }>(r: T): T => ({ ...r, device: rename.get(r.device) ?? r.device });
    findings.sort((a, b) => b.score - a.score || a.device.localeCompare(b.device));
    devices.sort((a, b) => a.key.localeCompare(b.key));
    return {
      devices,
      findings,
      sims: [...this.sims.values()].map(reKey).sort((a, b) => a.device.localeCompare(b.device) || a.channel.localeCompare(b.channel, 'en', { numeric: true })),
      sms: [...this.sms.values()].map(reKey).sort((a, b) => a.ts - b.ts),
      ...(behaviour ? { behaviour } : {}),
    };
  }
}

/**
 * A device whose behaviour crossed the threshold → a "sim-farm" finding. Each fired feature is a
 * piece of evidence of its own category (its explanation as the summary, its calls as refs), so the
 * table, the JSON, the store and MQTT show it like any other evidence; `behaviour` keeps every
 * feature as measured, fired or not.
 */
export function simFarmFinding(p: BehaviourProfile, family: Family, cfg: BehaviourConfig): Finding {
  const fired = p.features.filter((f) => f.fired);
  const evidence: Evidence[] = fired
    .map((f) => ({
      signature: `behaviour.${f.name}`,
      family: 'gateway' as const,
      finding: 'sim-farm' as const,
      category: `behaviour:${f.name}`,
      strength: f.weight >= 0.3 ? 'strong' as const : f.weight >= 0.15 ? 'medium' as const : 'weak' as const,
      weight: f.weight,
      summary: f.explain,
      source: `fires at ${f.op} ${f.threshold} (behaviour.features.${f.name}, docs/behaviour.md)`,
      count: 1,
      firstSeen: p.firstSeen,
      lastSeen: p.lastSeen,
      refs: f.refs.slice(0, MAX_REFS),
    }))
    .sort((a, b) => b.weight - a.weight);
  // High needs a clear margin over the threshold and more independent features than the minimum.
  const confidence: Confidence = p.score >= Math.max(cfg.threshold, 0.9) && fired.length >= cfg.minFeatures + 1 ? 'high' : 'medium';
  return {
    id: createHash('sha256').update(`sim-farm\u0000${p.device}`).digest('hex').slice(0, 16),
    kind: 'sim-farm',
    device: p.device,
    family,
    confidence,
    score: Math.round(p.score * 1000) / 1000,
    categories: evidence.map((e) => e.category).sort(),
    evidence,
    firstSeen: p.firstSeen,
    lastSeen: p.lastSeen,
    behaviour: {
      score: Math.round(p.score * 1000) / 1000, threshold: cfg.threshold, minFeatures: cfg.minFeatures,
      features: p.features, counters: p.counters, calls: p.calls,
    },
  };
}

function cloneAcc(d: DeviceAcc): DeviceAcc {
  return {
    ...d,
    macs: new Set(d.macs), ips: new Set(d.ips), hostnames: new Set(d.hostnames), vendorClasses: new Set(d.vendorClasses),
    serials: new Set(d.serials), userAgents: new Set(d.userAgents), sipLines: new Set(d.sipLines), channels: new Set(d.channels),
    evidence: new Map([...d.evidence].map(([k, e]) => [k, { ...e, refs: [...e.refs] }])),
  };
}

function mergeInto(into: DeviceAcc, d: DeviceAcc): void {
  for (const k of ['macs', 'ips', 'hostnames', 'vendorClasses', 'serials', 'userAgents', 'sipLines', 'channels'] as const) {
    for (const v of d[k]) if (into[k].size < MAX_SET) into[k].add(v);
  }
  into.firstSeen = Math.min(into.firstSeen, d.firstSeen);
  into.lastSeen = Math.max(into.lastSeen, d.lastSeen);
  for (const [id, e] of d.evidence) {
    const have = into.evidence.get(id);
    if (!have) into.evidence.set(id, e);
    else {
      have.count += e.count;
      have.firstSeen = Math.min(have.firstSeen, e.firstSeen);
      have.lastSeen = Math.max(have.lastSeen, e.lastSeen);
      have.refs = [...have.refs, ...e.refs].slice(0, MAX_REFS);
    }
  }
}

/** Combine evidence into a finding, or none when there is no evidence of this kind. */
export function score(device: string, kind: FindingKind, evidence: Evidence[]): Finding | undefined {
  if (evidence.length === 0) return undefined;
  // Per family: its own evidence plus the family-neutral "gateway" evidence.
  let best: { family: Family; score: number; cats: Map<string, Evidence> } | undefined;
  for (const family of families) {
    const rows = evidence.filter((e) => e.family === family || e.family === 'gateway');
    if (rows.length === 0 || (family !== 'gateway' && !rows.some((e) => e.family === family))) continue;
    const cats = new Map<string, Evidence>();
    for (const e of rows) {
      const have = cats.get(e.category);
      if (!have || e.weight > have.weight) cats.set(e.category, e);
    }
    const s = 1 - [...cats.values()].reduce((p, e) => p * (1 - e.weight), 1);
    // Prefer a named family over "gateway" at equal score.
    if (!best || s > best.score + 1e-9) best = { family, score: s, cats };
  }
  if (!best) return undefined;
  const top = [...best.cats.values()];
  const nonWeak = top.some((e) => e.strength !== 'weak');
  let confidence: Confidence = 'low';
  if (best.score >= 0.85 && top.length >= 2 && nonWeak) confidence = 'high';
  else if (best.score >= 0.5 && (top.length >= 2 || nonWeak)) confidence = 'medium';
  const used = evidence.filter((e) => e.family === best!.family || e.family === 'gateway').sort((a, b) => b.weight - a.weight);
  return {
    id: createHash('sha256').update(`${kind}\u0000${device}`).digest('hex').slice(0, 16),
    kind, device, family: best.family, confidence, score: Math.round(best.score * 1000) / 1000,
    categories: top.map((e) => e.category).sort(),
    evidence: used,
    firstSeen: Math.min(...used.map((e) => e.firstSeen)),
    lastSeen: Math.max(...used.map((e) => e.lastSeen)),
  };
}
