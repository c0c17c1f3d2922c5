/**
 * Keeps modem surveys, SMS read over AT and modem findings as observations of a run, in one
 * transaction. SMS are keyed by (port, sender, text, timestamp), so a second dump of the same pool
 * does not repeat them.
 */
import { createHash } from 'node:crypto';
import type { DumpedSms, ModemFinding, PortSurvey } from '../modems/types.js';
import { toolVersion } from '../version.js';
import { openDatabase } from './database.js';

export function storeModemRun(path: string, kind: 'modem-survey' | 'modem-dump', startedAt: string, surveys: PortSurvey[], sms: DumpedSms[], findings: ModemFinding[]): number {
  const db = openDatabase(path);
  try {
    const run = db.prepare('INSERT INTO runs (started_at, finished_at, tool_version, kind, partial) VALUES (?, ?, ?, ?, ?)');
    const survey = db.prepare(`INSERT INTO modem_surveys (run_id, port, driver, answered, manufacturer, model, revision, imei, sim_state, imsi, iccid, msisdn,
      operator, registration, signal, cells, errors, refs, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const message = db.prepare(`INSERT INTO modem_sms (id, port, sender, text, timestamp, status, transcript_line, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO NOTHING`);
    const finding = db.prepare('INSERT INTO modem_findings (run_id, kind, summary, ports, counts, refs) VALUES (?, ?, ?, ?, ?, ?)');
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
    return db.transaction(() => {
      const partial = surveys.some((s) => !s.answered) ? 1 : 0;
      const runId = Number(run.run(startedAt, new Date().toISOString(), toolVersion(), kind, partial).lastInsertRowid);
      for (const s of surveys) {
        survey.run(runId, s.port, s.driver, s.answered ? 1 : 0, s.manufacturer ?? null, s.model ?? null, s.revision ?? null, s.imei ?? null,
          s.simState ?? null, s.imsi ?? null, s.iccid ?? null, s.msisdn ?? null, json(s.operator), json(s.registration), json(s.signal),
          JSON.stringify(s.cells), JSON.stringify(s.errors), JSON.stringify(s.refs), s.startedAt);
      }
      for (const m of sms) {
        const id = createHash('sha256').update([m.port, m.sender, m.text, m.timestamp ?? ''].join('\u0000')).digest('hex').slice(0, 24);
        message.run(id, m.port, m.sender, m.text, m.timestamp ?? null, m.status, m.ref.line, runId);
      }
      for (const f of findings) finding.run(runId, f.kind, f.summary, JSON.stringify(f.ports), json(f.counts), JSON.stringify(f.refs));
      return runId;
    })();
  } finally {
    db.close();
  }
}
