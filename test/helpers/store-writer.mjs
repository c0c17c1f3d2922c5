// Child process for test/integration/store-crash.test.ts: writes to a probe store as the daemon
// would, as fast as it can, until it is killed. Plain JS importing the built dist (npm test
// builds first) so the test can SIGKILL a real process with no TypeScript loader in between.
//
//   node store-writer.mjs <db path> <first batch number> <quota bytes>
//
// After each committed batch it prints `committed <n>` (stdout on a pipe is synchronous on
// Linux, so the line leaves only after the commit returned). A batch n holds: finding `f-<n>`
// and an update of the shared finding `f-shared`, one modem survey, findings messages
// `m-<n>-<i>` (never dropped by retention) and heartbeats that retention may drop. Every 20
// batches the reporter side takes messages and acknowledges half, and retention runs.
import { ProbeStore } from '../../dist/src/store/probe-store.js';

const [path, firstArg, quotaArg] = process.argv.slice(2);
const first = Number(firstArg);
const store = ProbeStore.open(path, { quotaBytes: Number(quotaArg) });
const filler = 'x'.repeat(1500);

function finding(id, n) {
  return {
    id, kind: 'voip-gsm-gateway', device: `mac:02:00:00:00:${(n % 256).toString(16).padStart(2, '0')}:01`, family: 'goip',
    confidence: 'high', score: 0.9, categories: ['sip', 'http'], firstSeen: n, lastSeen: n,
    evidence: [{ signature: 'goip-sip-ua', family: 'goip', finding: 'voip-gsm-gateway', category: 'sip', strength: 'strong', weight: 3,
      summary: `batch ${n}`, source: 'sip', count: 1, firstSeen: n, lastSeen: n, refs: [{ file: 0, frames: [n] }] }],
  };
}

for (let n = first; ; n++) {
  const outbox = [];
  for (let i = 0; i < 8; i++) {
    outbox.push({ id: `m-${n}-${i}`, topic: 'findings', payload: JSON.stringify({ n, i, filler }), qos: 1, retain: false, priority: 0 });
  }
  for (let i = 0; i < 8; i++) {
    outbox.push({ id: `hb-${n}-${i}`, topic: 'heartbeat', payload: JSON.stringify({ n, i, filler }), qos: 0, retain: false, priority: 3, expirySeconds: 120 });
  }
  store.write({
    findings: [finding(`f-${n}`, n), finding('f-shared', n)],
    surveys: [{ port: `/dev/serial/by-path/port-${n % 16}`, driver: 'generic', answered: true, imei: '490154203237518', cells: [], remoteSimMarkers: 0,
      errors: [], refs: {}, startedAt: new Date().toISOString(), durationMs: 900 }],
    outbox,
  });
  process.stdout.write(`committed ${n}\n`);
  if (n % 20 === 0) {
    const taken = store.outbox.next(40);
    store.outbox.markSent(taken.filter((_, i) => i % 2 === 0).map((m) => m.id));
    store.retain();
  }
}
