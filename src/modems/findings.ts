/**
 * Findings from the modem side (issue "Modem bank"): what a pool's identifiers and inbox say.
 *
 *   surveys ──► IMEI: Luhn failure, all zero, repeated across ports   (at-commands.md §5)
 *           ──► ICCID: consecutive runs across slots (cards bought in bulk)
 *           ──► remote-SIM markers (AT+SIMDATA / +SIMDATA, goip-protocols.md §1.7)
 *   SMS     ──► verification codes per SIM and per platform (table below)
 */
import type { DumpedSms, ModemFinding, PortSurvey, TranscriptRef } from './types.js';
import { luhnValid } from '../at/parsers/identity.js';

export { luhnValid };

/**
 * Platforms whose verification codes SIM farms harvest. The sender numbers and brackets are
 * conventions of Chinese service SMS (a 【signature】 and a 1069/95xxx service number), written for
 * this tool: no public source in shared/reference lists them, so treat the table as a starting
 * point that lab staff extend. A message counts as a code only when it also has a code phrase.
 */
export const verificationPlatforms: Array<{ platform: string; pattern: RegExp }> = [
  { platform: 'QQ', pattern: /腾讯|QQ|Tencent/i },
  { platform: 'WeChat', pattern: /微信|WeChat/i },
  { platform: 'Alipay', pattern: /支付宝|Alipay|^95188$/i },
  { platform: 'Taobao', pattern: /淘宝|Taobao|天猫/i },
  { platform: 'Douyin', pattern: /抖音|Douyin|TikTok/i },
  { platform: 'JD', pattern: /京东|\bJD\b/ },
  { platform: 'Pinduoduo', pattern: /拼多多/ },
  { platform: 'Meituan', pattern: /美团/ },
  { platform: 'Kuaishou', pattern: /快手/ },
  { platform: 'Weibo', pattern: /微博/ },
  { platform: 'WhatsApp', pattern: /WhatsApp/i },
  { platform: 'Telegram', pattern: /Telegram/i },
];

const CODE_PHRASE = /(验证码|校验码|动态码|动态密码|确认码|verification code|your code|code is|code:)\D{0,12}\d{4,8}|\b\d{3}-\d{3}\b.*code|code.*\b\d{3}-\d{3}\b/i;

/** Is this SMS a verification code, and for which platform ('other' when the platform is not in the table)? */
export function classifyVerificationSms(sender: string, text: string): string | undefined {
  if (!CODE_PHRASE.test(text)) return undefined;
  const bracket = /【([^】]{1,20})】/.exec(text)?.[1] ?? '';
  for (const p of verificationPlatforms) {
    if (p.pattern.test(bracket) || p.pattern.test(text) || p.pattern.test(sender)) return p.platform;
  }
  return 'other';
}

/** Runs of ICCIDs that differ by one in their serial part (the 19 digits before the Luhn digit). */
export function consecutiveIccidRuns(iccids: Array<{ iccid: string; port: string }>, minRun = 3): Array<Array<{ iccid: string; port: string }>> {
  const parsed = iccids
    .filter((x) => /^\d{19,20}F?$/i.test(x.iccid))
    .map((x) => ({ ...x, serial: BigInt(x.iccid.replace(/F$/i, '').slice(0, 19)) }))
    .sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  const runs: Array<Array<{ iccid: string; port: string }>> = [];
  let run: typeof parsed = [];
  for (const x of parsed) {
    const last = run[run.length - 1];
    if (last && x.serial === last.serial + 1n) run.push(x);
    else {
      if (run.length >= minRun) runs.push(run.map(({ iccid, port }) => ({ iccid, port })));
      run = [x];
    }
  }
  if (run.length >= minRun) runs.push(run.map(({ iccid, port }) => ({ iccid, port })));
  return runs;
}

function ref(s: PortSurvey, key: keyof PortSurvey['refs']): TranscriptRef[] {
  const r = s.refs[key];
  return r ? [r] : [];
}

export function modemFindings(surveys: PortSurvey[], sms: DumpedSms[] = []): ModemFinding[] {
  const out: ModemFinding[] = [];
  const withImei = surveys.filter((s) => s.imei);
  for (const s of withImei) {
    const imei = s.imei!;
    if (/^0+$/.test(imei)) {
      out.push({ kind: 'imei-all-zero', summary: `${s.port}: IMEI is all zeros (placeholder or wiped)`, ports: [s.port], refs: ref(s, 'imei') });
    } else if (!luhnValid(imei)) {
      out.push({ kind: 'imei-luhn-failure', summary: `${s.port}: IMEI ${imei} fails the Luhn check (rewritten or random)`, ports: [s.port], refs: ref(s, 'imei') });
    }
  }
  const byImei = new Map<string, PortSurvey[]>();
  for (const s of withImei) byImei.set(s.imei!, [...(byImei.get(s.imei!) ?? []), s]);
  for (const [imei, list] of byImei) {
    if (list.length > 1 && !/^0+$/.test(imei)) {
      out.push({ kind: 'imei-repeated', summary: `IMEI ${imei} is reported by ${list.length} ports`, ports: list.map((s) => s.port), refs: list.flatMap((s) => ref(s, 'imei')) });
    }
  }
  for (const run of consecutiveIccidRuns(surveys.filter((s) => s.iccid).map((s) => ({ iccid: s.iccid!, port: s.port })))) {
    const ports = run.map((r) => r.port);
    out.push({
      kind: 'iccid-consecutive-run',
      summary: `${run.length} SIMs with consecutive ICCIDs ${run[0]!.iccid} … ${run[run.length - 1]!.iccid} (cards bought in bulk)`,
      ports, refs: surveys.filter((s) => ports.includes(s.port)).flatMap((s) => ref(s, 'iccid')),
    });
  }
  const remote = surveys.filter((s) => s.remoteSimMarkers > 0);
  if (remote.length) {
    out.push({ kind: 'remote-sim', summary: `${remote.length} port(s) show remote-SIM (SIM bank) markers (+SIMDATA)`, ports: remote.map((s) => s.port), refs: remote.flatMap((s) => ref(s, 'model')) });
  }
  const counts: Record<string, number> = {};
  const perSim: Record<string, number> = {};
  const codeRefs: TranscriptRef[] = [];
  for (const m of sms) {
    const platform = classifyVerificationSms(m.sender, m.text);
    if (!platform) continue;
    counts[platform] = (counts[platform] ?? 0) + 1;
    const sim = surveys.find((s) => s.port === m.port)?.imsi ?? m.port;
    perSim[sim] = (perSim[sim] ?? 0) + 1;
    if (codeRefs.length < 50) codeRefs.push(m.ref);
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total > 0) {
    const top = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([p, n]) => `${p} ${n}`).join(', ');
    out.push({
      kind: 'verification-codes',
      summary: `${total} verification-code SMS on ${Object.keys(perSim).length} SIM(s): ${top}`,
      ports: [...new Set(sms.filter((m) => classifyVerificationSms(m.sender, m.text)).map((m) => m.port))],
      counts: { ...Object.fromEntries(Object.entries(counts).map(([k, v]) => [`platform:${k}`, v])), ...Object.fromEntries(Object.entries(perSim).map(([k, v]) => [`sim:${k}`, v])) },
      refs: codeRefs,
    });
  }
  return out;
}
