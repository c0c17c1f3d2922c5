/**
 * The human-readable report of `replay`: inputs with hashes, findings with their evidence and
 * frame references, the SIM inventory and the SMS seen. Plain text, fixed-width columns.
 */
import type { ReplayReport } from '../replay.js';
import type { BehaviourExplanation, EvidenceRef } from '../detect/model.js';
import type { BehaviourCounters } from '../behaviour/types.js';
import { familyNames } from '../detect/model.js';

export function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.min(60, Math.max(...all.map((r) => (r[c] ?? '').length))));
  const line = (r: string[]) => r.map((cell, c) => fit(cell ?? '', widths[c]!)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function fit(s: string, w: number): string {
  return s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w);
}

function refText(report: ReplayReport, refs: EvidenceRef[]): string {
  const byFile = new Map<number, number[]>();
  for (const r of refs) byFile.set(r.file, [...(byFile.get(r.file) ?? []), ...r.frames]);
  return [...byFile.entries()]
    .map(([f, frames]) => `${report.inputs[f]?.name ?? `#${f}`}#${[...new Set(frames)].sort((a, b) => a - b).slice(0, 6).join(',')}`)
    .join(' ');
}

/** The counters behind a behaviour finding, the features that did not fire, and the calls shown as evidence. */
function behaviourLines(report: ReplayReport, b: BehaviourExplanation): string[] {
  const c = b.counters;
  const out = [`    counters: ${counterText(c)}`];
  const quiet = b.features.filter((f) => !f.fired);
  if (quiet.length) out.push(`    not fired: ${quiet.map((f) => `${f.name} ${f.value === null ? 'n/a' : fmt(f.value)} (${f.op} ${fmt(f.threshold)})`).join('; ')}`);
  if (b.calls.length) {
    out.push('    calls shown as evidence:');
    out.push(...table(b.calls.map((k) => [time(k.inviteTs), k.role === 'uas' ? 'received' : 'placed', k.line, k.callee ?? '', k.outcome,
      k.durationMs !== undefined ? `${(k.durationMs / 1000).toFixed(1)} s` : '', k.codec ?? '', refText(report, [k.ref])]),
    ['time', 'role', 'line', 'callee', 'outcome', 'duration', 'codec', 'frames']).split('\n').map((l) => `      ${l}`));
  }
  return out;
}

function counterText(c: BehaviourCounters): string {
  return [`${c.attempts} attempts (${c.terminated} received, ${c.originated} placed)`, `${c.answered} answered`, `${c.registeredLines} line(s)`,
    `concurrent max ${c.concurrentMax} / p95 ${fmt(c.concurrentP95)}`, `span ${fmt(c.spanS)} s`,
    Object.keys(c.codecs).length ? `codecs ${Object.entries(c.codecs).map(([k, v]) => `${k}×${v}`).join(' ')}` : '',
    c.rtpStreams ? `${c.rtpStreams} RTP stream(s)${c.rtpLossPct !== undefined ? `, loss ${fmt(c.rtpLossPct)}%` : ''}${c.rtpJitterMsP50 !== undefined ? `, jitter p50 ${fmt(c.rtpJitterMsP50)} ms` : ''}${c.ptimeMs !== undefined ? `, ptime ${fmt(c.ptimeMs)} ms` : ''}` : '',
    c.sims ? `${c.sims} SIM(s)` : '', c.verificationSms ? `${c.verificationSms} verification SMS` : '',
  ].filter(Boolean).join('; ');
}

/** Devices whose behaviour was scored but did not cross the threshold: shown so a reader sees why not. */
function profileLines(report: ReplayReport): string[] {
  const below = (report.behaviour?.profiles ?? []).filter((p) => p.eligible && !p.simFarm);
  if (below.length === 0) return [];
  const out = ['', `BEHAVIOUR SCORED, NOT A SIM FARM (${below.length} device(s))`];
  for (const p of below.slice(0, 20)) {
    const fired = p.features.filter((f) => f.fired).map((f) => f.name);
    out.push(`  ${p.device}  score ${p.score.toFixed(2)}; fired: ${fired.length ? fired.join(', ') : 'none'}`);
    if (p.reason) out.push(`      not a SIM farm: ${p.reason}`);
    out.push(`      ${counterText(p.counters)}`);
  }
  if (below.length > 20) out.push(`  … and ${below.length - 20} more (see --json)`);
  return out;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

function time(ts: number): string {
  return Number.isFinite(ts) && ts > 0 ? new Date(ts).toISOString().replace('T', ' ').slice(0, 19) : '';
}

export function renderReport(report: ReplayReport): string {
  const out: string[] = [];
  out.push(`goipwatch ${report.tool.version} — replay of ${report.inputs.length} file(s), ${report.stats.frames} frames (${report.tool.libpcap})`);
  out.push('');
  out.push('INPUTS');
  out.push(table(report.inputs.map((i) => [i.name, i.format, i.linkType, String(i.frames), i.sha256.slice(0, 16), i.status + (i.problem ? `: ${i.problem}` : '')]),
    ['file', 'format', 'link', 'frames', 'sha256', 'status']));
  out.push('');
  const devices = new Map(report.devices.map((d) => [d.key, d]));
  const gateways = report.findings.filter((f) => f.kind === 'voip-gsm-gateway');
  const servers = report.findings.filter((f) => f.kind === 'sms-server');
  const farms = report.findings.filter((f) => f.kind === 'sim-farm');
  out.push(`FINDINGS (${gateways.length} gateway(s), ${servers.length} SMS server(s), ${farms.length} SIM farm(s) by behaviour)`);
  if (report.findings.length === 0) out.push('  none');
  for (const f of report.findings) {
    const d = devices.get(f.device);
    const what = f.kind === 'sms-server' ? 'GoIP SMS server (controller)'
      : f.kind === 'sim-farm' ? 'behaves like a SIM farm'
        : `VoIP-GSM gateway: ${familyNames[f.family]}`;
    const basis = f.behaviour
      ? `score ${f.score.toFixed(2)} ≥ threshold ${f.behaviour.threshold.toFixed(2)}, ${f.categories.length} of ${f.behaviour.features.length} behaviour features fired`
      : `score ${f.score.toFixed(2)}, ${f.categories.length} independent kind(s) of evidence`;
    out.push(`* ${f.device}  ${what}  confidence ${f.confidence.toUpperCase()} (${basis})`);
    if (d) {
      const facts = [
        d.ips.length ? `ip ${d.ips.join(', ')}` : '',
        d.vendor ? `vendor ${d.vendor}${d.vendorNote ? ` (${d.vendorNote})` : ''}` : '',
        d.serials.length ? `serial ${d.serials.join(', ')}` : '',
        d.channels.length ? `${d.channels.length} channel(s)` : '',
        d.sipLines.length ? `${d.sipLines.length} SIP line(s)` : '',
        d.userAgents.length ? `UA ${d.userAgents.slice(0, 2).join(' | ')}` : '',
      ].filter(Boolean);
      if (facts.length) out.push(`    ${fit(facts.join('; '), 160).trimEnd()}`);
    }
    for (const e of f.evidence) {
      out.push(`    - [${e.strength} ${e.weight.toFixed(2)}] ${e.summary}${e.count > 1 ? ` (×${e.count})` : ''}`);
      out.push(`      at ${refText(report, e.refs)}  — ${e.signature}; ${e.source}`);
    }
    if (f.behaviour) out.push(...behaviourLines(report, f.behaviour));
  }
  out.push(...profileLines(report));
  out.push('');
  out.push(`SIM INVENTORY (${report.sims.length})`);
  if (report.sims.length) {
    out.push(table(report.sims.map((s) => [s.device, s.channel, s.imei ?? '', s.imsi ?? '', s.iccid ?? '', s.carrier ?? '',
      s.signalDbm !== undefined ? `${s.signalDbm} dBm` : '', s.lac || s.cell ? `${s.lac ?? '?'}/${s.cell ?? '?'}` : '',
      [s.smsLogin ? `SMS:${s.smsLogin}` : '', s.smbLogin ? `SMB:${s.smbLogin}` : ''].filter(Boolean).join(' ')]),
    ['device', 'channel', 'IMEI', 'IMSI', 'ICCID', 'carrier', 'signal', 'LAC/cell', 'login']));
  }
  out.push('');
  out.push(`SMS (${report.sms.length})`);
  for (const m of report.sms) {
    out.push(`  ${time(m.ts)}  ${m.device} ch ${m.channel || '?'}  from ${m.sender || '?'}${m.copies > 1 ? `  (sent ${m.copies}×)` : ''}`);
    out.push(`      ${m.body.replace(/\s+/g, ' ').slice(0, 200)}  [${refText(report, m.refs)}]`);
  }
  const malformed = Object.entries(report.stats.malformed);
  const problems = report.inputs.filter((i) => i.status !== 'ok');
  if (malformed.length || problems.length) {
    out.push('');
    out.push('INPUT PROBLEMS');
    for (const i of problems) out.push(`  ${i.path}: ${i.status}: ${i.problem ?? ''}`);
    for (const [why, n] of malformed.sort((a, b) => b[1] - a[1])) out.push(`  ${n} × ${why}`);
  }
  return out.join('\n');
}
