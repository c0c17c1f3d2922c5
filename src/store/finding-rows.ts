/**
 * Findings and their evidence as rows: one upsert shared by the replay store and the probe store,
 * so a finding is updated (not repeated) the same way whichever command wrote it.
 */
import type { Db } from './database.js';
import type { EvidenceRef, EvidenceSource, Finding } from '../detect/model.js';

/** Serialises a list of refs the way the caller keeps them (resolved to file + SHA-256 in replay, raw on the probe). */
export type RefsToJson = (refs: EvidenceRef[]) => string;

/** Whether a probe's clock was synchronised when a finding was taken (src/clock.ts); the MQTT payload's `clock`. */
export interface ClockNote {
  synced: boolean;
  /** ms the finding's times were moved once NTP synchronised. */
  correctedByMs?: number;
}

export interface FindingWriter {
  /**
   * `clock` and `sources` only from the probe; a row keeps its last known clock note when none is
   * given. `sources` names what the refs' file indexes point at (the probe's evidence files).
   */
  write(f: Finding, runId: number, clock?: ClockNote, sources?: EvidenceSource[]): void;
}

export function findingWriter(db: Db, refs: RefsToJson): FindingWriter {
  const finding = db.prepare(`INSERT INTO findings (id, device, kind, family, confidence, score, categories, first_seen, last_seen, run_id, behaviour, clock, sources)
    VALUES (@id, @device, @kind, @family, @confidence, @score, @categories, @first, @last, @run, @behaviour, @clock, @sources)
    ON CONFLICT(id) DO UPDATE SET family = @family, confidence = @confidence, score = @score, categories = @categories,
      first_seen = min(first_seen, @first), last_seen = max(last_seen, @last), run_id = @run, updated_runs = updated_runs + 1,
      behaviour = coalesce(@behaviour, behaviour), clock = coalesce(@clock, clock), sources = coalesce(@sources, sources)`);
  const evidence = db.prepare(`INSERT INTO evidence (finding_id, signature, family, category, strength, weight, summary, source, count, refs)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(finding_id, signature) DO UPDATE SET summary = excluded.summary, count = excluded.count, refs = excluded.refs, weight = excluded.weight`);
  return {
    write(f: Finding, runId: number, clock?: ClockNote, sources?: EvidenceSource[]): void {
      const b = f.behaviour;
      const behaviour = b === undefined ? null : JSON.stringify({
        ...b,
        features: b.features.map((x) => ({ ...x, refs: JSON.parse(refs(x.refs)) as unknown })),
        calls: b.calls.map((c) => ({ ...c, ref: (JSON.parse(refs([c.ref])) as unknown[])[0] })),
      });
      finding.run({ id: f.id, device: f.device, kind: f.kind, family: f.family, confidence: f.confidence, score: f.score,
        categories: JSON.stringify(f.categories), first: f.firstSeen, last: f.lastSeen, run: runId, behaviour,
        clock: clock === undefined ? null : JSON.stringify(clock), sources: sources === undefined ? null : JSON.stringify(sources) });
      for (const e of f.evidence) {
        evidence.run(f.id, e.signature, e.family, e.category, e.strength, e.weight, e.summary, e.source, e.count, refs(e.refs));
      }
    },
  };
}
