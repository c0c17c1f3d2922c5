/**
 * The human-readable report of `replay`: inputs with hashes, findings with their evidence and
 * frame references, the SIM inventory and the SMS seen. Plain text, fixed-width columns.
 */
import type { ReplayReport } from '../replay.js';
import type { EvidenceRef } from '../detect/model.js';
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
  out.push(`FINDINGS (${gateways.length} gateway(s), ${servers.length} SMS server(s))`);
  if (report.findings.length === 0) out.push('  none');
  for (const f of report.findings) {
    const d = devices.get(f.device);
    const what = f.kind === 'sms-server' ? 'GoIP SMS server (controller)' : `VoIP-GSM gateway: ${familyNames[f.family]}`;
    out.push(`* ${f.device}  ${what}  confidence ${f.confidence.toUpperCase()} (score ${f.score.toFixed(2)}, ${f.categories.length} independent kind(s) of evidence)`);
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
  }
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
