/**
 * The MQTT contract (docs/mqtt.md, src/report/schemas/): builders produce payloads valid against
 * their own schema, ids are stable, hashed mode leaves no raw IMSI/ICCID/MSISDN, and the
 * reconnect backoff and credential handling behave. Samples are synthetic, shaped like
 * src/detect/model.ts and src/modems/types.ts.
 */
import type { FeatureResult } from '../../src/behaviour/types.js';
import { createHmac } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Finding, SimRecord } from '../../src/detect/model.js';
import type { ModemFinding, PortSurvey } from '../../src/modems/types.js';
import {
  REPORT_TOPICS, ReportContract, ReportSchemaError, SCHEMAS, SCHEMA_VERSIONS, schemaId, topicName, validatePayload,
} from '../../src/report/contract.js';
import { loadMqttCredentials, reconnectDelay, redactUrl, Secret } from '../../src/report/mqtt-reporter.js';

const KEY = 'unit-test-key-0123456789abcdef';
const fixedNow = (): number => Date.UTC(2025, 0, 2, 3, 4, 5);

const finding: Finding = {
  id: 'voip-gsm-gateway:mac:00:21:f2:00:00:01', kind: 'voip-gsm-gateway', device: 'mac:00:21:f2:00:00:01', family: 'goip',
  confidence: 'high', score: 0.93, categories: ['goip-sms', 'sip-ua'], firstSeen: 1_700_000_000, lastSeen: 1_700_000_050,
  evidence: [{
    signature: 'goip-keepalive', family: 'goip', finding: 'voip-gsm-gateway', category: 'goip-sms', strength: 'strong', weight: 0.9,
    summary: 'GoIP keep-alive from channel 1 (IMSI 460001234567890)', source: 'shared/reference/goip-protocols.md', count: 3,
    firstSeen: 1_700_000_000, lastSeen: 1_700_000_050, refs: [{ file: 0, frames: [1, 5, 9] }],
  }],
};
const sim: SimRecord = {
  device: 'mac:00:21:f2:00:00:01', channel: '1', imei: '867123456789012', imsi: '460001234567890', iccid: '8986001234567890123F',
  msisdn: '+8613800138000', carrier: 'CHINA MOBILE', source: 'goip keep-alive', firstSeen: 1, lastSeen: 2, refs: [{ file: 0, frames: [1] }],
};
const survey: PortSurvey = {
  port: '/dev/serial/by-path/platform-usb-0:1.1:1.0', driver: 'quectel', answered: true, manufacturer: 'Quectel', model: 'EC25',
  imei: '867123456789012', simState: 'READY', imsi: '460001234567890', iccid: '8986001234567890123F', msisdn: '13800138000',
  operator: { name: 'CHINA MOBILE', numeric: '46000', act: 'LTE' }, registration: { stat: 1, state: 'home', tac: '1A2B', cellId: '0ABC123', act: 'LTE' },
  signal: { csq: 20, rssiDbm: -73 }, cells: [{ role: 'serving', act: 'LTE', mcc: '460', mnc: '00', tac: '1A2B', cellId: '0ABC123', pci: 101, raw: '+QENG: "servingcell",...' }],
  remoteSimMarkers: 0, errors: [], refs: { imsi: { port: '/dev/serial/by-path/platform-usb-0:1.1:1.0', line: 12 } },
  startedAt: '2025-01-02T03:04:05.000Z', durationMs: 850,
};
const modemFinding: ModemFinding = {
  kind: 'verification-codes', summary: '3 verification-code SMS on 1 SIM(s): wechat 3', ports: ['p1'],
  counts: { 'platform:wechat': 3, 'sim:460001234567890': 3 }, refs: [{ port: 'p1', line: 40 }],
};
const heartbeat = {
  uptimeSeconds: 3600, intervalSeconds: 60, clock: { synced: true, source: 'systemd-timesyncd' }, capture: { interface: 'eth0', packets: 123456, drops: 0 },
  modems: { portsUp: 7, portsTotal: 8 }, outbox: { pending: 12, dropped: 0 }, disk: { freeBytes: 12_000_000_000, totalBytes: 32_000_000_000 },
};

describe('MQTT contract', () => {
  const contract = new ReportContract({ probeId: 'flat-12b', now: fixedNow });

  it('builds payloads that carry their versioned schema name and pass their schema', () => {
    const drafts = [contract.heartbeat(heartbeat), contract.finding(finding), contract.modemFinding(modemFinding), contract.sim(sim), contract.survey(survey),
      contract.event({ kind: 'modem-unplugged', severity: 'warning', message: 'port p3 gone', data: { port: 'p3' } })];
    expect(drafts.map((d) => d.topic)).toEqual(['heartbeat', 'findings', 'findings', 'inventory', 'survey', 'events']);
    for (const d of drafts) {
      const payload = JSON.parse(d.payload) as { schema: string; id: string; probe: string; at: string };
      expect(payload.schema).toBe(`goipwatch/${d.topic}/${SCHEMA_VERSIONS[d.topic]}`);
      expect(payload).toMatchObject({ id: d.id, probe: 'flat-12b', at: '2025-01-02T03:04:05.000Z' });
      expect(() => validatePayload(d.topic, payload)).not.toThrow();
      expect(d.qos).toBe(1);
    }
    expect(drafts[0]!.expirySeconds).toBe(180);
    expect(contract.status('online')).toMatchObject({ schema: 'goipwatch/status/1', state: 'online', probe: 'flat-12b' });
  });

  it('every schema compiles, names its topic in $id and is documented in docs/mqtt.md', async () => {
    const doc = await readFile(new URL('../../docs/mqtt.md', import.meta.url), 'utf8');
    for (const topic of REPORT_TOPICS) {
      expect((SCHEMAS[topic] as { $id: string }).$id).toBe(schemaId(topic));
      expect(doc).toContain(schemaId(topic));
      expect(doc).toContain(`schemas/${topic}.v${SCHEMA_VERSIONS[topic]}.json`);
    }
  });

  it('names what the refs index when sources are given (findings/3), and keeps the id of a finding without them', () => {
    const sources = [
      { file: 0, kind: 'evidence' as const, name: 'eth0-20261207T055521Z-001.pcap', interface: 'eth0' },
      { file: 1, kind: 'interface' as const, interface: 'eth0', since: '2026-12-07T05:55:21.000Z' },
    ];
    const withSources = contract.finding(finding, undefined, sources);
    const p = JSON.parse(withSources.payload) as { schema: string; sources: unknown };
    expect(p.schema).toBe('goipwatch/findings/3');
    expect(p.sources).toEqual(sources);
    expect(withSources.id).not.toBe(contract.finding(finding).id);
    expect(contract.finding(finding, undefined, []).id).toBe(contract.finding(finding).id);
    const bad = [{ file: 0, kind: 'tape' }] as unknown as typeof sources;
    expect(() => contract.finding(finding, undefined, bad)).toThrow(/sources/);
  });

  it('throws with the schema error when a payload does not fit its own schema', () => {
    const bad = { ...finding, confidence: 'certain' } as unknown as Finding;
    expect(() => contract.finding(bad)).toThrow(ReportSchemaError);
    expect(() => contract.finding(bad)).toThrow(/\/finding.*confidence|must be equal to one of/);
    expect(() => contract.event({ kind: 'Bad Kind!', severity: 'info', message: 'x' })).toThrow(/goipwatch\/events\/1/);
  });

  it('gives the same id to the same fact and a new id when the fact changes', () => {
    const later = new ReportContract({ probeId: 'flat-12b', now: () => fixedNow() + 60_000 });
    expect(later.finding(finding).id).toBe(contract.finding(finding).id);
    expect(contract.finding({ ...finding, score: 0.95 }).id).not.toBe(contract.finding(finding).id);
    expect(contract.finding(finding).id).toMatch(/^finding:voip-gsm-gateway:mac:00:21:f2:00:00:01@[0-9a-f]{16}$/);
    expect(contract.modemFinding({ ...modemFinding, refs: [] }).id.split('@')[0]).toBe(contract.modemFinding(modemFinding).id.split('@')[0]);
    expect(contract.sim(sim).id).toMatch(/^sim:mac:00:21:f2:00:00:01\/1@/);
  });

  it('hashed mode replaces IMSI, ICCID and MSISDN by HMAC-SHA256 under the key, in fields and in free text', () => {
    const hashed = new ReportContract({ probeId: 'flat-12b', identifiers: 'hashed', identifierKey: KEY, now: fixedNow });
    const hmac = (v: string): string => createHmac('sha256', KEY).update(v).digest('hex');
    const texts = [hashed.sim(sim), hashed.survey(survey), hashed.finding(finding), hashed.modemFinding(modemFinding)].map((d) => d.payload);
    for (const text of texts) for (const raw of ['460001234567890', '8986001234567890123', '13800138000']) expect(text).not.toContain(raw);
    const inv = JSON.parse(texts[0]!) as { identifiers: string; sim: SimRecord };
    expect(inv.identifiers).toBe('hashed');
    expect(inv.sim).toMatchObject({ imsi: hmac(sim.imsi!), iccid: hmac(sim.iccid!), msisdn: hmac(sim.msisdn!), imei: sim.imei });
    // The same IMSI in a summary becomes the same short token everywhere it appears.
    expect(texts[2]).toContain(`#${hmac('460001234567890').slice(0, 12)}`);
    expect(texts[3]).toContain(`sim:#${hmac('460001234567890').slice(0, 12)}`);
  });

  it('a sim-farm finding carries its behaviour explanation (findings/2 and later), and hashed mode hides the called numbers', () => {
    const feature = (name: FeatureResult['name'], fired: boolean, value: number | null, explain: string): FeatureResult => ({
      name, value, threshold: 0.8, op: '>=', fired, weight: 0.3, explain, refs: fired ? [{ file: 0, frames: [12, 40] }] : [],
    });
    const farm: Finding = {
      id: 'c0ffee', kind: 'sim-farm', device: 'ip:192.168.50.20', family: 'gateway', confidence: 'medium', score: 0.86,
      categories: ['behaviour:mobileShare'], firstSeen: 1_700_000_000, lastSeen: 1_700_000_300,
      evidence: [{ signature: 'behaviour.mobileShare', family: 'gateway', finding: 'sim-farm', category: 'behaviour:mobileShare', strength: 'strong',
        weight: 0.3, summary: '40 of 41 callees are mainland China mobile numbers, e.g. 13812345678', source: 'behaviour feature', count: 1,
        firstSeen: 1_700_000_000, lastSeen: 1_700_000_300, refs: [{ file: 0, frames: [12] }] }],
      behaviour: {
        score: 0.86, threshold: 0.8, minFeatures: 2,
        features: [feature('mobileShare', true, 0.98, '40 of 41 callees are mainland China mobile numbers, e.g. 13812345678'), feature('lines', false, null, 'no REGISTER seen')],
        counters: { attempts: 41, answered: 12, originated: 0, terminated: 41, registeredLines: 8, concurrentMax: 8, concurrentP95: 7, spanS: 300,
          codecs: { G729: 41 }, rtpStreams: 24, rtpLossPct: 0, rtpJitterMsP50: 0.4, ptimeMs: 20, sims: 0, verificationSms: 0 },
        calls: [{ callId: 'a@b', role: 'uas', line: '8001@192.168.50.20:5062', callee: '13812345678', inviteTs: 1_700_000_010, outcome: 'answered',
          durationMs: 31_000, codec: 'G729', ref: { file: 0, frames: [12, 14, 40] } }],
      },
    };
    const full = JSON.parse(new ReportContract({ probeId: 'flat-12b', now: fixedNow }).finding(farm).payload) as { schema: string; finding: { kind: string; behaviour: { calls: Array<{ callee: string }> } } };
    expect(full.schema).toBe('goipwatch/findings/3');
    expect(full.finding.kind).toBe('sim-farm');
    expect(full.finding.behaviour.calls[0]!.callee).toBe('13812345678');
    const text = new ReportContract({ probeId: 'flat-12b', identifiers: 'hashed', identifierKey: KEY, now: fixedNow }).finding(farm).payload;
    expect(text).not.toContain('13812345678');
    expect(text).toContain(`#${createHmac('sha256', KEY).update('13812345678').digest('hex').slice(0, 12)}`);
    // A finding of the previous version's shape is still valid under version 2 (nothing was taken away).
    expect(() => validatePayload('findings', { ...JSON.parse(new ReportContract({ probeId: 'p', now: fixedNow }).finding(finding).payload) as object })).not.toThrow();
  });

  it('refuses hashed mode without a usable key', () => {
    expect(() => new ReportContract({ probeId: 'p', identifiers: 'hashed' })).toThrow(/GW_CONFIG/);
    expect(() => new ReportContract({ probeId: 'p', identifiers: 'hashed', identifierKey: 'short' })).toThrow(/16 bytes/);
  });

  it.each([
    ['goipwatch', 'probe-1', 'goipwatch/probe-1/findings'],
    ['site/cn-gd/goipwatch', 'pi.04', 'site/cn-gd/goipwatch/pi.04/findings'],
  ])('names topics under base %s', (base, probe, expected) => {
    expect(topicName(base, probe, 'findings')).toBe(expected);
    expect(new ReportContract({ probeId: probe, baseTopic: base }).topic('findings')).toBe(expected);
  });

  it.each([['goip/+'], ['#'], ['a//b'], ['$SYS'], ['']])('rejects base topic %j', (base) => {
    expect(() => topicName(base, 'p', 'status')).toThrow(/GW_CONFIG/);
  });

  it('rejects a probe id that would add topic levels or wildcards', () => {
    for (const id of ['a/b', 'a+', 'x#', '', 'x'.repeat(65)]) expect(() => new ReportContract({ probeId: id })).toThrow(/GW_CONFIG/);
  });
});

describe('reconnect backoff', () => {
  it('grows exponentially to the cap with jitter in the upper half of each step', () => {
    const opts = { initialMs: 1_000, maxMs: 60_000 };
    expect(reconnectDelay(0, opts, () => 0)).toBe(500);
    expect(reconnectDelay(0, opts, () => 1)).toBe(1_000);
    expect(reconnectDelay(3, opts, () => 0.5)).toBe(6_000);
    for (const attempt of [6, 10, 50, 10_000]) {
      expect(reconnectDelay(attempt, opts, () => 1)).toBe(60_000);
      expect(reconnectDelay(attempt, opts, () => 0)).toBe(30_000);
    }
  });
});

describe('MQTT credentials', () => {
  it('reads user and password from a file and never prints the password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'goipwatch-cred-'));
    try {
      const file = join(dir, 'mqtt');
      await writeFile(file, 'probe-7\ns3cr3t-pa:ss\n');
      await chmod(file, 0o600);
      const creds = await loadMqttCredentials({ file });
      expect(creds?.username).toBe('probe-7');
      expect(creds?.password?.reveal()).toBe('s3cr3t-pa:ss');
      const printed = [JSON.stringify(creds), inspect(creds), String(creds?.password), `${creds?.password?.toString()}`].join(' ');
      expect(printed).not.toContain('s3cr3t');
      expect(printed).toContain('[redacted]');
      await expect(loadMqttCredentials({ file: join(dir, 'missing') })).rejects.toThrow(/GW_CONFIG/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads them from the environment, or gives none', async () => {
    const creds = await loadMqttCredentials({ env: { GOIPWATCH_MQTT_USERNAME: 'u', GOIPWATCH_MQTT_PASSWORD: 'p' } });
    expect(creds?.username).toBe('u');
    expect(creds?.password).toBeInstanceOf(Secret);
    expect(await loadMqttCredentials({ env: {} })).toBeUndefined();
  });

  it('redacts user info in a broker URL', () => {
    expect(redactUrl('mqtts://user:pw@broker:8883')).toBe('mqtts://[redacted]@broker:8883');
    expect(redactUrl('mqtt://broker:1883')).toBe('mqtt://broker:1883');
  });
});
