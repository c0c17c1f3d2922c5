/**
 * Writes a replay's results in one transaction. Findings are updated, not repeated: a finding id
 * is stable per (kind, device), so replaying more captures of the same flat refreshes the row
 * (and counts the runs that touched it) instead of adding another.
 */
import { findingWriter } from './finding-rows.js';
import { createHash } from 'node:crypto';
import type { ReplayReport } from '../replay.js';
import { resolveRefs } from '../report/json.js';
import { openDatabase } from './database.js';

export interface StoredRun {
  runId: number;
  findings: number;
  sims: number;
  sms: number;
}

export function storeReplay(path: string, report: ReplayReport): StoredRun {
  const db = openDatabase(path);
  try {
    const refs = (list: Parameters<typeof resolveRefs>[1]) => JSON.stringify(resolveRefs(report, list));
    const insertRun = db.prepare('INSERT INTO runs (started_at, finished_at, tool_version, kind, partial) VALUES (?, ?, ?, ?, ?)');
    const insertInput = db.prepare(`INSERT INTO inputs (run_id, idx, path, sha256, size, format, link_type, frames, status, problem)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const upsertDevice = db.prepare(`INSERT INTO devices (key, macs, ips, vendor, facts, first_seen, last_seen) VALUES (@key, @macs, @ips, @vendor, @facts, @first, @last)
      ON CONFLICT(key) DO UPDATE SET macs = @macs, ips = @ips, vendor = coalesce(@vendor, vendor), facts = @facts,
        first_seen = min(first_seen, @first), last_seen = max(last_seen, @last)`);
    const findings = findingWriter(db, refs);
    const upsertSim = db.prepare(`INSERT INTO sims (device, channel, imsi, imei, iccid, msisdn, carrier, signal_dbm, lac, cell, sms_login, smb_login, source, first_seen, last_seen, refs)
      VALUES (@device, @channel, @imsi, @imei, @iccid, @msisdn, @carrier, @signal, @lac, @cell, @smsLogin, @smbLogin, @source, @first, @last, @refs)
      ON CONFLICT(device, channel, imsi) DO UPDATE SET imei = coalesce(@imei, imei), iccid = coalesce(@iccid, iccid), carrier = coalesce(@carrier, carrier),
        signal_dbm = coalesce(@signal, signal_dbm), lac = coalesce(@lac, lac), cell = coalesce(@cell, cell), last_seen = max(last_seen, @last), refs = @refs`);
    const upsertSms = db.prepare(`INSERT INTO sms (id, device, channel, sender, body, recv_id, source, copies, ts, refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET copies = max(copies, excluded.copies), refs = excluded.refs`);

    return db.transaction((): StoredRun => {
      const runId = Number(insertRun.run(report.startedAt, report.finishedAt, report.tool.version, 'replay', report.partial ? 1 : 0).lastInsertRowid);
      for (const i of report.inputs) insertInput.run(runId, i.index, i.path, i.sha256, i.size, i.format, i.linkType, i.frames, i.status, i.problem ?? null);
      for (const d of report.devices) {
        upsertDevice.run({
          key: d.key, macs: JSON.stringify(d.macs), ips: JSON.stringify(d.ips), vendor: d.vendor ?? null,
          facts: JSON.stringify({ hostnames: d.hostnames, vendorClasses: d.vendorClasses, serials: d.serials, userAgents: d.userAgents, sipLines: d.sipLines, channels: d.channels }),
          first: d.firstSeen, last: d.lastSeen,
        });
      }
      for (const f of report.findings) findings.write(f, runId);
      for (const s of report.sims) {
        upsertSim.run({ device: s.device, channel: s.channel, imsi: s.imsi ?? '', imei: s.imei ?? null, iccid: s.iccid ?? null, msisdn: s.msisdn ?? null,
          carrier: s.carrier ?? null, signal: s.signalDbm ?? null, lac: s.lac ?? null, cell: s.cell ?? null, smsLogin: s.smsLogin ?? null,
          smbLogin: s.smbLogin ?? null, source: s.source, first: s.firstSeen, last: s.lastSeen, refs: refs(s.refs) });
      }
      for (const m of report.sms) {
        const id = createHash('sha256').update([m.device, m.channel, m.recvId ?? '', m.sender, m.body].join('\u0000')).digest('hex').slice(0, 24);
        upsertSms.run(id, m.device, m.channel, m.sender, m.body, m.recvId ?? null, m.source, m.copies, m.ts, refs(m.refs));
      }
      return { runId, findings: report.findings.length, sims: report.sims.length, sms: report.sms.length };
    })();
  } finally {
    db.close();
  }
}
