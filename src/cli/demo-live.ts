/**
 * The demo's live half: the whole probe pipeline with no hardware and no installed broker.
 *
 *   aedes (embedded MQTT broker, loopback) ◄── goipwatch run (Daemon) ◄── simulated modem bank (PTYs)
 *          │                                        ▲
 *          └──► monitor (what central sees)         └── a fixture capture replayed as live traffic
 */
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { configFromObject } from '../config/load.js';
import { Daemon } from '../daemon.js';
import { SimulatedBank } from '../modems/simulator/index.js';
import { startMonitor, type MonitorEvent } from '../report/monitor.js';

function describe(e: MonitorEvent): string {
  if (e.type === 'status') return `status     ${e.probe} is ${e.state}`;
  const kind = e.topic.split('/').pop() ?? '';
  const p = e.payload;
  const body = (p.finding ?? p.sim ?? p.survey ?? p) as Record<string, unknown>;
  const pick = (...keys: string[]) => keys.map((k) => body[k]).filter((v) => v !== undefined && v !== '').map(String).join(' ');
  switch (kind) {
    case 'findings': return `finding    ${pick('kind', 'device', 'family', 'confidence', 'summary')}`;
    case 'inventory': return `inventory  ${pick('device', 'channel', 'imsi', 'iccid', 'carrier')}`;
    case 'survey': return `survey     ${pick('port', 'model', 'imei', 'imsi', 'simState')}`;
    case 'heartbeat': return 'heartbeat  (health figures)';
    default: return `${kind.padEnd(10)} ${e.id ?? ''}`;
  }
}

export async function runLiveDemo(capture: string, out: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'goipwatch-demo-'));
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const bank = new SimulatedBank();
  let daemon: Daemon | undefined;
  let monitor: Awaited<ReturnType<typeof startMonitor>> | undefined;
  try {
    out(`embedded MQTT broker (aedes) on ${url}`);
    const ports = await bank.start({ ports: 4, seed: 2026, dir: join(dir, 'bank') });
    out(`simulated modem bank: ${ports.length} ports on pseudo-terminals under ${join(dir, 'bank')}`);
    monitor = await startMonitor({ url, protocolVersion: 4, group: false, onEvent: (e) => out(`  central ◄ ${describe(e)}`) });
    const { config } = await configFromObject({
      version: 1,
      probe: { id: 'demo-probe', stateDir: dir },
      capture: { interfaces: [] },
      modems: { enabled: true, ports: [], surveyIntervalS: 3600, listen: false },
      store: { path: 'probe.db', quotaMb: 16 },
      mqtt: { url },
      heartbeat: { intervalS: 60 },
    }, { env: {} });
    // The schema wants /dev/serial/... paths; the simulated bank lives in a temp dir.
    config.modems.ports = ports.map((path) => ({ path, driver: 'auto' as const }));
    daemon = await Daemon.start(config, { findingsIntervalMs: 500, mqttProtocolVersion: 4 });
    out(`probe daemon running: store ${join(dir, 'probe.db')}, surveying the bank, reporting to the broker`);
    const frames = await daemon.replayAsLive(capture);
    out(`replayed ${frames} frames of ${capture} as live traffic`);
    await daemon.heartbeat();
    await new Promise((r) => setTimeout(r, 3000));
  } finally {
    await daemon?.stop();
    await new Promise((r) => setTimeout(r, 300));
    await monitor?.stop();
    await bank.stop();
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}
