/**
 * The probe daemon end to end with real parts: live capture on loopback (libpcap), a simulated
 * modem bank on socat PTYs, the SQLite store on disk and a real mosquitto started for the test.
 * What central monitoring receives is read by a separate MQTT client.
 */
import { createSocket } from 'node:dgram';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { configFromObject } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon.js';
import { readCaptureFile } from '../../src/capture/file-source.js';
import { SimulatedBank } from '../../src/modems/simulator/index.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

const waitFor = async (what: string, ok: () => boolean, ms = 20_000) => {
  for (const t0 = Date.now(); !ok(); ) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('goipwatch run (the probe daemon)', () => {
  let broker: Mosquitto | undefined;
  const bank = new SimulatedBank();
  let daemon: Daemon | undefined;
  let sub: mqtt.MqttClient | undefined;

  afterAll(async () => {
    await daemon?.stop();
    await sub?.endAsync();
    await bank.stop();
    await broker?.dispose();
  });

  it('captures, surveys, stores and reports over MQTT', async () => {
    broker = await startMosquitto();
    const ports = await bank.start({ ports: 2, seed: 3, profiles: 'quectel-ec25' });
    const dir = mkdtempSync(join(tmpdir(), 'gw-probe-'));
    const udpPort = 30000 + Math.floor(Math.random() * 20000);
    const { config } = await configFromObject({
      version: 1,
      probe: { id: 'probe-test', stateDir: dir },
      capture: { interfaces: ['lo'], filter: `udp port ${udpPort}`, bufferSizeMb: 1 },
      modems: { enabled: true, ports: [], surveyIntervalS: 60, listen: false },
      store: { path: 'probe.db', quotaMb: 16 },
      mqtt: { url: broker.url, identifiers: 'full' },
      heartbeat: { intervalS: 10 },
    }, { env: {} });
    // The schema wants /dev/serial/... device paths; the simulated bank's PTYs live in a temp dir.
    config.modems.ports = ports.map((path) => ({ path, driver: 'auto' as const }));

    const received: Array<{ topic: string; payload: Record<string, unknown> }> = [];
    sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    sub.on('message', (topic, payload) => received.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
    await sub.subscribeAsync('goipwatch/probe-test/#', { qos: 1 });

    // The probe starts without network time (a Pi has no battery clock), and gets it later.
    let ntp = false;
    daemon = await Daemon.start(config, { findingsIntervalMs: 300, clock: async () => ({ synced: ntp, source: 'test' }) });
    // A GoIP keep-alive on the wire (goip-protocols.md §1.1.1, styryl/node-goip sample).
    const sock = createSocket('udp4');
    const ka = Buffer.from('req:27;id:gateway_name;pass:gateway_password;num:;signal:29;gsm_status:LOGIN;voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:867495023958030;imsi:260060172091324;iccid:89480611000720913242;pro:POL;idle:11;disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;');
    await waitFor('a finding on MQTT', () => {
      sock.send(ka, udpPort, '127.0.0.1');
      return received.some((m) => m.topic.endsWith('/findings'));
    });
    sock.close();
    await waitFor('two surveys', () => received.filter((m) => m.topic.endsWith('/survey')).length >= 2);
    await daemon.heartbeat();
    await waitFor('a heartbeat', () => received.some((m) => m.topic.endsWith('/heartbeat')));

    expect(received.find((m) => m.topic.endsWith('/findings'))!.payload.clock).toEqual({ synced: false });
    ntp = true;
    await daemon.checkClock();
    daemon.flushFindings();
    await waitFor('the finding again, on the synchronised clock', () => received.some((m) => m.topic.endsWith('/findings') && (m.payload.clock as { synced?: boolean } | undefined)?.synced === true));
    const resent = received.find((m) => m.topic.endsWith('/findings') && (m.payload.clock as { synced?: boolean }).synced)!.payload;
    expect(typeof (resent.clock as { correctedByMs?: number }).correctedByMs).toBe('number');
    expect(received.find((m) => m.topic === 'goipwatch/probe-test/status')?.payload).toMatchObject({ state: 'online' });
    const finding = received.find((m) => m.topic.endsWith('/findings'))!.payload;
    expect(JSON.stringify(finding)).toContain('goip');
    const surveys = received.filter((m) => m.topic.endsWith('/survey')).map((m) => JSON.stringify(m.payload));
    expect(surveys.some((s) => s.includes(bank.modem(0).state.imei))).toBe(true);
    const inventory = received.find((m) => m.topic.endsWith('/inventory') && JSON.stringify(m.payload).includes('260060172091324'))!.payload as {
      schema: string; sources: Array<{ kind: string; name?: string }>; sim: { refs: Array<{ file: number }> };
    };
    // The SIM's refs point into the same evidence file as the finding's (inventory/2 sources).
    expect(inventory.schema).toBe('goipwatch/inventory/2');
    expect(inventory.sources[inventory.sim.refs[0]!.file]).toMatchObject({ kind: 'evidence', name: expect.stringMatching(/^lo-.*-001\.pcap$/) as string });
    const hb = received.find((m) => m.topic.endsWith('/heartbeat'))!.payload as { capture?: { packets: number } };
    expect(hb.capture?.packets).toBeGreaterThan(0);

    await daemon.stop();
    daemon = undefined;
    await waitFor('offline status', () => received.some((m) => m.topic.endsWith('/status') && m.payload.state === 'offline'));
    // The frames behind the finding were written to an evidence file, and the refs point there.
    const withSources = received.find((m) => m.topic.endsWith('/findings') && Array.isArray(m.payload.sources))!.payload as {
      sources: Array<{ file: number; kind: string; name?: string }>; finding: { evidence: Array<{ refs: Array<{ file: number; frames: number[] }> }> };
    };
    const ref = withSources.finding.evidence[0]!.refs[0]!;
    const source = withSources.sources[ref.file]!;
    expect(source).toMatchObject({ kind: 'evidence', name: expect.stringMatching(/^lo-\d{8}T\d{6}Z-001\.pcap$/) as string });
    const kept: Buffer[] = [];
    await readCaptureFile(join(dir, 'evidence', source.name!), (f) => kept.push(Buffer.from(f.data.subarray(0, f.caplen))));
    expect(kept[ref.frames[0]! - 1]!.includes(Buffer.from('req:27;id:gateway_name'))).toBe(true);
    // Everything that was reported is also in the store, and nothing is left unsent.
    const db = new Database(join(dir, 'probe.db'), { readonly: true });
    const file = db.prepare('SELECT sha256, frames FROM evidence_files WHERE name = ?').get(source.name) as { sha256: string; frames: number };
    expect(file.sha256).toBe(createHash('sha256').update(readFileSync(join(dir, 'evidence', source.name!))).digest('hex'));
    expect(file.frames).toBe(kept.length);
    expect((db.prepare("SELECT count(*) n FROM outbox WHERE state != 'sent'").get() as { n: number }).n).toBe(0);
    expect((db.prepare('SELECT count(*) n FROM findings').get() as { n: number }).n).toBeGreaterThan(0);
    // The rows say which clock their times are on: taken before NTP, kept corrected after it.
    const clocks = (db.prepare("SELECT clock FROM findings WHERE kind = 'voip-gsm-gateway'").all() as Array<{ clock: string | null }>).map((r) => JSON.parse(r.clock ?? 'null') as unknown);
    expect(clocks).toEqual([{ synced: true, correctedByMs: expect.any(Number) as number }]);
    expect((db.prepare('SELECT count(*) n FROM modem_surveys').get() as { n: number }).n).toBe(2);
    // Each survey keeps its raw transcript, and the IMEI ref points at the command whose answer says it.
    const surveyRows = db.prepare(`SELECT s.imei, s.refs, t.text, t.sha256 FROM modem_surveys s JOIN modem_transcripts t ON t.id = s.transcript_id`).all() as Array<{ imei: string; refs: string; text: string; sha256: string }>;
    expect(surveyRows).toHaveLength(2);
    for (const r of surveyRows) {
      const line = (JSON.parse(r.refs) as { imei: { line: number } }).imei.line;
      const lines = r.text.split('\n');
      const at = lines.findIndex((l) => l.startsWith(`${line}\t`));
      expect(lines[at]).toMatch(/\ttx\tAT\+CGSN/);
      expect(lines[at + 1]).toMatch(new RegExp(`\\trx\\t${r.imei}$`));
      expect(r.sha256).toBe(createHash('sha256').update(r.text).digest('hex'));
    }
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  }, 90_000);

  it('reports a SIM farm found by behaviour alone, with its explanation, over MQTT and in its store', async () => {
    broker ??= await startMosquitto();
    const dir = mkdtempSync(join(tmpdir(), 'gw-probe-'));
    const { config } = await configFromObject({
      version: 1,
      probe: { id: 'probe-farm', stateDir: dir },
      capture: { interfaces: [] },
      modems: { enabled: false },
      store: { path: 'probe.db', quotaMb: 16 },
      mqtt: { url: broker.url, identifiers: 'full' },
    }, { env: {} });
    const received: Array<{ topic: string; payload: Record<string, unknown> }> = [];
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    client.on('message', (topic, payload) => received.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
    await client.subscribeAsync('goipwatch/probe-farm/findings', { qos: 1 });
    const probe = await Daemon.start(config, { findingsIntervalMs: 60_000, clock: async () => ({ synced: true, source: 'test' }) });
    try {
      // fixtures/behaviour/gw8-hidden-ua.pcap (sipp): an 8-line gateway with no User-Agent, fed as live traffic.
      await probe.replayAsLive(join(__dirname, '../../fixtures/behaviour/gw8-hidden-ua.pcap'));
      probe.flushFindings();
      const farmOf = () => received.find((m) => (m.payload.finding as { kind?: string } | undefined)?.kind === 'sim-farm');
      await waitFor('the sim-farm finding on MQTT', () => farmOf() !== undefined);
      const msg = farmOf()!.payload as { schema: string; finding: { device: string; behaviour: { features: Array<{ name: string; fired: boolean }>; calls: unknown[] } } };
      expect(msg.schema).toBe('goipwatch/findings/3');
      // Fed as live traffic from a file: the refs name that file.
      expect((farmOf()!.payload as { sources?: unknown }).sources).toEqual([{ file: 0, kind: 'file', name: 'gw8-hidden-ua.pcap' }]);
      expect(msg.finding.device).toBe('mac:0a:7c:3e:50:20:08');
      expect(msg.finding.behaviour.features.filter((f) => f.fired).map((f) => f.name)).toEqual(expect.arrayContaining(['lines', 'lineSaturation', 'mobileShare']));
      expect(msg.finding.behaviour.calls.length).toBeGreaterThan(0);
    } finally {
      await probe.stop();
      await client.endAsync();
    }
    const db = new Database(join(dir, 'probe.db'), { readonly: true });
    const row = db.prepare("SELECT behaviour FROM findings WHERE kind = 'sim-farm'").get() as { behaviour: string } | undefined;
    expect(JSON.parse(row!.behaviour)).toMatchObject({ threshold: 0.8, counters: { registeredLines: 8 } });
    db.close();
  }, 90_000);

  it('reports a modem unplugged while listening, and surveys it again as soon as it is back', async () => {
    broker ??= await startMosquitto();
    const replugBank = new SimulatedBank();
    const dir = mkdtempSync(join(tmpdir(), 'gw-probe-'));
    const ports = await replugBank.start({ ports: 2, seed: 9, profiles: 'simcom-sim800' });
    const { config } = await configFromObject({
      version: 1,
      probe: { id: 'probe-replug', stateDir: dir },
      capture: { interfaces: [] },
      modems: { enabled: true, ports: [], surveyIntervalS: 600, listen: true },
      store: { path: 'probe.db', quotaMb: 16 },
      mqtt: { url: broker.url, identifiers: 'full' },
    }, { env: {} });
    config.modems.ports = ports.map((path) => ({ path, driver: 'auto' as const }));
    const received: Array<{ topic: string; payload: Record<string, unknown> }> = [];
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    client.on('message', (topic, payload) => received.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
    await client.subscribeAsync(['goipwatch/probe-replug/events', 'goipwatch/probe-replug/survey'], { qos: 1 });
    const probe = await Daemon.start(config, { clock: async () => ({ synced: true, source: 'test' }) });
    const surveysOf = (port: string) => received.filter((m) => m.topic.endsWith('/survey') && (m.payload.survey as { port?: string }).port === port);
    const eventsOf = (kind: string) => received.filter((m) => m.topic.endsWith('/events') && (m.payload.event as { kind?: string }).kind === kind);
    try {
      await waitFor('the first survey of both ports', () => surveysOf(ports[0]!).length === 1 && surveysOf(ports[1]!).length === 1);
      await new Promise((r) => setTimeout(r, 1000)); // listening now
      await replugBank.unplug(0);
      await waitFor('modem-unplugged on MQTT', () => eventsOf('modem-unplugged').length === 1);
      expect(eventsOf('modem-unplugged')[0]!.payload.event).toMatchObject({ severity: 'warning', data: { port: ports[0], session: 1 } });
      await replugBank.replug(0);
      await waitFor('modem-replugged on MQTT', () => eventsOf('modem-replugged').length === 1);
      // The next survey comes at once, not after surveyIntervalS (600 s): the SIM may have been swapped.
      await waitFor('a second survey of the replugged port', () => surveysOf(ports[0]!).length === 2);
    } finally {
      await probe.stop();
      await client.endAsync();
      await replugBank.stop();
    }
    // The listen transcripts are kept, one per opening of the port: the unplug event's line is in the first.
    const unplug = eventsOf('modem-unplugged')[0]!.payload.event as { data: { listen: string; session: number; transcriptLine: number } };
    const db = new Database(join(dir, 'probe.db'), { readonly: true });
    const sessions = db.prepare(`SELECT session, text FROM modem_transcripts WHERE kind = 'listen' AND port = ? AND started_at = ? ORDER BY session`)
      .all(ports[0], unplug.data.listen) as Array<{ session: number; text: string }>;
    db.close();
    expect(sessions.map((x) => x.session)).toEqual([1, 2]);
    expect(sessions[0]!.text.split('\n').find((l) => l.startsWith(`${unplug.data.transcriptLine}\t`))).toMatch(/\tnote\tport went away/);
  }, 90_000);

  // Needs root (mount): CI and this project's machines run as root; elsewhere the test says so and skips.
  it('keeps every finding when the evidence disk is full: the frames that did not fit keep their interface numbers', async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-probe-'));
    const evidenceDir = join(dir, 'evidence');
    mkdirSync(evidenceDir);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', evidenceDir]).status === 0;
    if (!mounted) ctx.skip('cannot mount a 64 KiB tmpfs here (needs root)');
    const udpPort = 30000 + Math.floor(Math.random() * 20000);
    const { config } = await configFromObject({
      version: 1,
      probe: { id: 'probe-full', stateDir: dir },
      capture: { interfaces: ['lo'], filter: `udp port ${udpPort}`, bufferSizeMb: 1 },
      modems: { enabled: false },
      store: { path: 'probe.db', quotaMb: 16 },
    }, { env: {} });
    const probe = await Daemon.start(config, { findingsIntervalMs: 3_600_000, clock: async () => ({ synced: true, source: 'test' }) });
    const devices = 250;
    try {
      // 250 GoIP-like devices, one keep-alive each (~450 bytes a frame): far more than 64 KiB of evidence.
      const sockets = await Promise.all(Array.from({ length: devices }, async (_, i) => {
        const sock = createSocket('udp4');
        await new Promise<void>((r) => sock.bind(0, `127.0.1.${i + 1}`, r));
        return sock;
      }));
      for (const [i, sock] of sockets.entries()) {
        sock.send(`req:1;id:gw${i};pass:x;num:;signal:20;gsm_status:LOGIN;voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:8674950239${String(10000 + i)};imsi:4600${String(10000000000 + i)};iccid:8986001${String(100000000000 + i)};pro:CMCC;idle:1;disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;`, udpPort, '127.0.0.1');
      }
      for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 100))) {
        await probe.heartbeat(); // refreshes probe.stats.capture
        if ((probe.stats.capture[0]?.frames ?? 0) >= devices) break;
        if (Date.now() - t0 > 20_000) throw new Error(`only ${probe.stats.capture[0]?.frames} of ${devices} keep-alives captured`);
      }
      for (const sock of sockets) sock.close();
      probe.flushFindings();
    } finally {
      await probe.stop();
      if (mounted) {
        const db = new Database(join(dir, 'probe.db'), { readonly: true });
        const rows = db.prepare("SELECT sources FROM findings WHERE kind = 'voip-gsm-gateway'").all() as Array<{ sources: string }>;
        const kinds = rows.flatMap((r) => (JSON.parse(r.sources) as Array<{ kind: string }>).map((x) => x.kind));
        const file = db.prepare('SELECT name, sha256, frames FROM evidence_files').get() as { name: string; sha256: string; frames: number } | undefined;
        db.close();
        // What is on the full disk is exactly what was hashed: whole records only.
        const onDisk = file ? createHash('sha256').update(readFileSync(join(evidenceDir, file.name))).digest('hex') : undefined;
        const readBack: number[] = [];
        if (file) await readCaptureFile(join(evidenceDir, file.name), (f) => readBack.push(f.number));
        spawnSync('umount', [evidenceDir]);
        expect(onDisk).toBe(file?.sha256);
        expect(readBack.length).toBe(file?.frames);
        // Every device has its finding; some frames made it into the evidence file, the rest did not fit.
        expect(rows).toHaveLength(devices);
        expect(kinds).toContain('evidence');
        expect(kinds).toContain('interface');
        expect(file?.frames).toBeGreaterThan(0);
        expect(file?.frames).toBeLessThan(devices);
      }
    }
  }, 90_000);
});
