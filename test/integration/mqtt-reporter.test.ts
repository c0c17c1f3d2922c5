/**
 * MqttReporter against a real mosquitto (test/helpers/mosquitto.ts), observed by a separate mqtt
 * client that counts what arrives. We assert on what is published, never on private calls.
 *
 * The outbox here is MemoryOutbox, a small in-memory OutboxStore with the same contract
 * (src/store/outbox-types.ts: next() never hands out a message twice until released or sent). It
 * stands in for SqliteOutbox (src/store/outbox.ts), which has its own tests; this file is about
 * the reporter and the broker.
 */
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { OutboxMessage, OutboxStats, OutboxStore } from '../../src/store/outbox-types.js';
import type { Finding, SimRecord } from '../../src/detect/model.js';
import type { PortSurvey } from '../../src/modems/types.js';
import { ReportContract } from '../../src/report/contract.js';
import { MqttReporter } from '../../src/report/mqtt-reporter.js';
import { freePort, startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

class MemoryOutbox implements OutboxStore {
  private readonly pending = new Map<string, OutboxMessage>();
  private readonly taken = new Set<string>();
  sent = 0;
  enqueue(messages: Array<Omit<OutboxMessage, 'createdAt'> & { createdAt?: number }>): void {
    for (const m of messages) this.pending.set(m.id, { ...m, createdAt: m.createdAt ?? Date.now() });
  }
  next(limit: number): OutboxMessage[] {
    const out: OutboxMessage[] = [];
    for (const m of this.pending.values()) {
      if (out.length >= limit) break;
      if (!this.taken.has(m.id)) out.push(m);
    }
    for (const m of out) this.taken.add(m.id);
    return out;
  }
  markSent(ids: string[]): void {
    for (const id of ids) if (this.pending.delete(id)) this.sent++;
    for (const id of ids) this.taken.delete(id);
  }
  release(ids: string[]): void {
    for (const id of ids) this.taken.delete(id);
  }
  stats(): OutboxStats {
    return { pending: this.pending.size, sent: this.sent, dropped: {} };
  }
  takenCount(): number {
    return this.taken.size;
  }
}

interface Received {
  topic: string;
  text: string;
  retain: boolean;
  packet: IPublishPacket;
}

/** An observer client: subscribes to `<base>/#` and keeps everything. */
async function observe(url: string, extra: IClientOptions = {}): Promise<{ client: MqttClient; got: Received[] }> {
  const got: Received[] = [];
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 200, clientId: `observer-${Math.random().toString(16).slice(2)}`, ...extra });
  client.on('message', (topic, payload, packet) => got.push({ topic, text: payload.toString('utf8'), retain: packet.retain, packet }));
  client.on('error', (err) => void err); // expected while the broker is down; the client reconnects on its own
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe('goipwatch/#', { qos: 1, rap: true }, (err) => (err ? reject(err) : resolve())));
  });
  return { client, got };
}

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const statesOf = (got: Received[]): Array<{ state: string; reason?: string; retain: boolean }> =>
  got.filter((r) => r.topic.endsWith('/status')).map((r) => ({ ...(JSON.parse(r.text) as { state: string; reason?: string }), retain: r.retain }));

function finding(n: number): Finding {
  return {
    id: `voip-gsm-gateway:mac:00:11:22:33:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`,
    kind: 'voip-gsm-gateway', device: `mac:00:11:22:33:44:${(n & 255).toString(16).padStart(2, '0')}`, family: 'goip',
    confidence: 'high', score: 0.9, categories: ['sip-ua', 'goip-sms'], firstSeen: 1_700_000_000, lastSeen: 1_700_000_100 + n,
    evidence: [{
      signature: 'sip-ua-dbl', family: 'goip', finding: 'voip-gsm-gateway', category: 'sip-ua', strength: 'strong', weight: 0.8,
      summary: 'User-Agent dble', source: 'synthetic (test)', count: 1, firstSeen: 1_700_000_000, lastSeen: 1_700_000_000, refs: [{ file: 0, frames: [n] }],
    }],
  };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function track(broker: Mosquitto, reporter?: MqttReporter, observer?: MqttClient): void {
  cleanups.push(() => broker.dispose());
  if (reporter) cleanups.push(() => reporter.stop(500));
  if (observer) cleanups.push(async () => void (await observer.endAsync(true)));
}

const backoff = { initialMs: 100, maxMs: 800 };

describe('MqttReporter with a real mosquitto', () => {
  it('keeps the retained status honest: online on connect, offline by the last will when the connection dies, offline on stop', async () => {
    const broker = await startMosquitto();
    const { client: observer, got } = await observe(broker.url);
    const contract = new ReportContract({ probeId: 'probe-1' });
    const outbox = new MemoryOutbox();
    const reporter = new MqttReporter({ url: broker.url, contract, outbox, backoff: { initialMs: 1_000, maxMs: 2_000 } });
    track(broker, reporter, observer);
    reporter.start();
    await until('online', () => statesOf(got).some((s) => s.state === 'online'));

    reporter.dropConnection(); // the socket dies without DISCONNECT, as in a power cut
    await until('will', () => statesOf(got).some((s) => s.state === 'offline'));
    const will = statesOf(got).find((s) => s.state === 'offline')!;
    expect(will).toMatchObject({ reason: 'connection-lost', retain: true });
    // A newcomer sees the retained will while the probe is away.
    const late = await observe(broker.url);
    cleanups.push(async () => void (await late.client.endAsync(true)));
    await until('retained offline', () => statesOf(late.got).length > 0);
    expect(statesOf(late.got)[0]).toMatchObject({ state: 'offline', retain: true });

    await until('online again', () => statesOf(got).filter((s) => s.state === 'online').length === 2);
    // A late will of an earlier connection (as a half-open socket produces) is answered with "online".
    const staleWill = JSON.stringify(contract.status('offline', { reason: 'connection-lost', clientId: 'goipwatch-probe-1-old' }));
    await observer.publishAsync('goipwatch/probe-1/status', staleWill, { qos: 1, retain: true });
    await until('online after stale will', () => statesOf(got).filter((s) => s.state === 'online').length === 3);
    // Heartbeats carry MQTT 5 message expiry and the schema/probe user properties.
    outbox.enqueue([contract.heartbeat({ uptimeSeconds: 5, intervalSeconds: 60, clock: { synced: false }, modems: { portsUp: 0, portsTotal: 0 }, outbox: { pending: 0, dropped: 0 }, disk: { freeBytes: 1e9 } })]);
    reporter.notify();
    await until('heartbeat', () => got.some((r) => r.topic === 'goipwatch/probe-1/heartbeat'));
    const hb = got.find((r) => r.topic === 'goipwatch/probe-1/heartbeat')!.packet;
    expect(hb.properties?.messageExpiryInterval).toBeGreaterThan(170);
    expect(hb.properties?.userProperties).toMatchObject({ schema: 'goipwatch/heartbeat/1', probe: 'probe-1' });

    await reporter.stop();
    const after = await observe(broker.url);
    cleanups.push(async () => void (await after.client.endAsync(true)));
    await until('retained after stop', () => statesOf(after.got).length > 0);
    expect(statesOf(after.got)[0]).toMatchObject({ state: 'offline', reason: 'shutdown', retain: true });
  });

  it('delivers every finding across a broker restart in the middle of a drain, none lost and none twice after de-duplication', async () => {
    const broker = await startMosquitto({ persistence: true });
    // A persistent session, so the observer misses nothing while the broker restarts.
    const { client: observer, got } = await observe(broker.url, { clean: false, clientId: 'observer-restart', properties: { sessionExpiryInterval: 600 } });
    const contract = new ReportContract({ probeId: 'probe-2' });
    const outbox = new MemoryOutbox();
    const reporter = new MqttReporter({ url: broker.url, contract, outbox, backoff, window: 200, pollMs: 100 });
    track(broker, reporter, observer);

    const before = Array.from({ length: 3_000 }, (_, i) => contract.finding(finding(i)));
    outbox.enqueue(before);
    const findingIds = (): string[] => got.filter((r) => r.topic.endsWith('/findings')).map((r) => (JSON.parse(r.text) as { id: string }).id);
    reporter.start();
    await until('first findings', () => findingIds().length >= 100);
    expect(outbox.stats().pending).toBeGreaterThan(0); // still draining
    await broker.stop(); // mid-drain: messages in flight are released back to the outbox
    const during = Array.from({ length: 1_000 }, (_, i) => contract.finding(finding(3_000 + i)));
    outbox.enqueue(during); // buffered while the broker is away
    await new Promise((r) => setTimeout(r, 1_500));
    expect(reporter.isConnected()).toBe(false);
    await broker.restart();

    const expected = new Set([...before, ...during].map((m) => m.id));
    await until('all findings', () => new Set(findingIds()).size >= expected.size, 25_000);
    const ids = findingIds();
    const unique = new Set(ids);
    expect(unique).toEqual(expected);
    // At least once: a message in flight when the broker went away may arrive twice, but never
    // more than the window's worth, and de-duplicating by id leaves exactly one of each.
    expect(ids.length - unique.size).toBeLessThanOrEqual(200);
    await until('outbox empty', () => outbox.stats().pending === 0);
    expect(outbox.takenCount()).toBe(0);
    expect(reporter.stats().reconnects).toBeGreaterThanOrEqual(1);
  });

  it('waits for a broker that is not there at boot, then drains', async () => {
    const port = await freePort();
    const contract = new ReportContract({ probeId: 'probe-3' });
    const outbox = new MemoryOutbox();
    outbox.enqueue([contract.finding(finding(1)), contract.finding(finding(2))]);
    const reporter = new MqttReporter({ url: `mqtt://127.0.0.1:${port}`, contract, outbox, backoff });
    cleanups.push(() => reporter.stop(500));
    reporter.start();
    await new Promise((r) => setTimeout(r, 800));
    expect(reporter.stats()).toMatchObject({ connected: false });
    expect(reporter.stats().failedAttempts).toBeGreaterThanOrEqual(2);
    expect(outbox.stats().pending).toBe(2);

    const broker = await startMosquitto({ port });
    cleanups.unshift(() => broker.dispose()); // after the reporter's stop
    await until('drained', () => outbox.stats().pending === 0);
    expect(reporter.isConnected()).toBe(true);
  });

  it('connects over TLS with a test CA and a client certificate (require_certificate true)', async () => {
    const broker = await startMosquitto({ tls: { requireCertificate: true } });
    const tls = broker.tls!;
    const { client: observer, got } = await observe(broker.url, { ca: await readFile(tls.caFile), cert: await readFile(tls.clientCertFile), key: await readFile(tls.clientKeyFile) });
    const contract = new ReportContract({ probeId: 'probe-tls' });
    const outbox = new MemoryOutbox();
    outbox.enqueue([contract.finding(finding(7))]);
    const reporter = new MqttReporter({ url: broker.url, contract, outbox, backoff, tls: { caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile } });
    // Without a client certificate the broker refuses the handshake: the reporter keeps retrying, quietly.
    const refused = new MqttReporter({ url: broker.url, contract: new ReportContract({ probeId: 'probe-nocert' }), outbox: new MemoryOutbox(), backoff, tls: { caFile: tls.caFile } });
    track(broker, reporter, observer);
    cleanups.push(() => refused.stop(500));
    reporter.start();
    refused.start();
    await until('finding over TLS', () => got.some((r) => r.topic === 'goipwatch/probe-tls/findings'));
    expect(statesOf(got).some((s) => s.state === 'online')).toBe(true);
    expect(refused.stats().connected).toBe(false);
    expect(got.some((r) => r.topic.startsWith('goipwatch/probe-nocert/'))).toBe(false);
  });

  it('sends IMSI, ICCID and MSISDN only as keyed hashes in hashed mode', async () => {
    const broker = await startMosquitto();
    const { client: observer, got } = await observe(broker.url);
    const key = 'test-identifier-key-0123456789';
    const contract = new ReportContract({ probeId: 'probe-h', identifiers: 'hashed', identifierKey: key });
    const outbox = new MemoryOutbox();
    const imsi = '460001234567890';
    const iccid = '89860012345678901234';
    const msisdn = '+8613800138000';
    const sim: SimRecord = { device: 'mac:00:11:22:33:44:55', channel: '3', imsi, iccid, msisdn, imei: '867123456789012', source: 'synthetic (test)', firstSeen: 1, lastSeen: 2, refs: [] };
    const survey: PortSurvey = {
      port: '/dev/serial/by-path/test-port0', driver: 'generic', answered: true, imsi, iccid, msisdn, cells: [], remoteSimMarkers: 0,
      errors: [{ command: 'AT+CNUM', error: `+CME ERROR, SIM ${iccid} busy` }], refs: {}, startedAt: '2025-01-01T00:00:00.000Z', durationMs: 10,
    };
    outbox.enqueue([contract.sim(sim), contract.survey(survey)]);
    const reporter = new MqttReporter({ url: broker.url, contract, outbox, backoff });
    track(broker, reporter, observer);
    reporter.start();
    await until('inventory and survey', () => got.some((r) => r.topic.endsWith('/inventory')) && got.some((r) => r.topic.endsWith('/survey')));
    const everything = got.map((r) => r.text).join('\n');
    for (const raw of [imsi, iccid, msisdn, msisdn.slice(1)]) expect(everything).not.toContain(raw);
    const hmac = (v: string): string => createHmac('sha256', key).update(v).digest('hex');
    const inv = JSON.parse(got.find((r) => r.topic.endsWith('/inventory'))!.text) as { identifiers: string; sim: SimRecord };
    expect(inv.identifiers).toBe('hashed');
    expect(inv.sim).toMatchObject({ imsi: hmac(imsi), iccid: hmac(iccid), msisdn: hmac(msisdn), imei: sim.imei });
  });
});
