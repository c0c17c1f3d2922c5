/**
 * The detector: signature rows as data, scoring rules (DESIGN §4), device keying and inventory.
 * Observations here are written for the test in the shapes the analyzers produce.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DetectionEngine, score } from '../../src/detect/engine.js';
import { builtinSignatures, compileSignature, loadSignatures, renderSummary, valuesAt } from '../../src/detect/signatures.js';
import type { Evidence } from '../../src/detect/model.js';
import type { Observation } from '../../src/protocols/types.js';
import { lookupOui } from '../../src/detect/oui.js';

const ref = { file: 0, frames: [1] };
const mac = (m: string, ip: string): Observation => ({ kind: 'mac', mac: m, oui: m.slice(0, 8), device: { ip, mac: m }, ts: 1, ref });
const sipRegister = (ip: string, aor: string, ua: string): Observation => ({
  kind: 'sip', isRequest: true, method: 'REGISTER', aor, userAgent: ua, headerNames: ['user-agent'], device: { ip, port: 5060 }, ts: 2, ref,
});

function detect(obs: Observation[]) {
  const engine = new DetectionEngine(builtinSignatures());
  for (const o of obs) engine.observe(o);
  return engine.finish();
}

describe('signature table', () => {
  it('loads the built-in rows, each with a source', () => {
    const sigs = builtinSignatures();
    expect(sigs.length).toBeGreaterThan(30);
    for (const s of sigs) expect(s.source).toMatch(/§|README|manuf/);
  });

  const bad: Array<[string, object, RegExp]> = [
    ['an unknown family', { family: 'nokia' }, /"family" must be one of/],
    ['a weight of 1', { weight: 1 }, /"weight"/],
    ['two operators in one condition', { where: [{ field: 'x', present: true, gte: 1 }] }, /exactly one of/],
    ['a broken regex', { where: [{ field: 'x', regex: '(' }] }, /bad regex/],
    ['no source', { source: '' }, /"source" is required/],
  ];
  const good = { id: 'test-row', family: 'goip', category: 'c', strength: 'weak', weight: 0.2, kind: 'sip', where: [{ field: 'userAgent', present: true }], summary: 's', source: 'test' };
  it.each(bad)('rejects a row with %s, naming the problem', (_why, patch, message) => {
    expect(() => compileSignature({ ...good, ...patch }, 'row 1')).toThrow(message);
  });

  it('reads paths through arrays and matches any value', () => {
    const obs = { sdp: { media: [{ codecs: ['PCMU'] }, { codecs: ['G729', 'telephone-event'] }] } };
    expect(valuesAt(obs, 'sdp.media.codecs')).toEqual(['PCMU', 'G729', 'telephone-event']);
    const s = compileSignature({ ...good, where: [{ field: 'sdp.media.codecs', equals: ['g729'] }] }, 't');
    expect(s.test(obs)).toBe(true);
    expect(s.test({ sdp: { media: [{ codecs: ['PCMA'] }] } })).toBe(false);
  });

  it('fills summary placeholders and marks absent fields', () => {
    expect(renderSummary('UA {userAgent} from {missing}', { userAgent: 'dble' })).toBe('UA dble from ?');
  });

  it('lets an extra file add and override rows, and reports a malformed file as a usage error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-sig-'));
    const extra = join(dir, 'extra.json');
    writeFileSync(extra, JSON.stringify({ signatures: [{ ...good, id: 'oui-dbl', weight: 0.1 }, { ...good, id: 'lab-row' }] }));
    const sigs = loadSignatures([extra]);
    expect(sigs.find((s) => s.id === 'oui-dbl')?.weight).toBe(0.1);
    expect(sigs.some((s) => s.id === 'lab-row')).toBe(true);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"signatures": [');
    expect(() => loadSignatures([broken])).toThrow(/GW_SIGNATURES/);
  });
});

describe('scoring', () => {
  const ev = (category: string, strength: Evidence['strength'], weight: number, family: Evidence['family'] = 'goip'): Evidence => ({
    signature: `${category}-${weight}`, family, finding: 'voip-gsm-gateway', category, strength, weight, summary: '', source: '', count: 1, firstSeen: 0, lastSeen: 0, refs: [],
  });

  it('gives one weak clue alone a low-confidence finding at most', () => {
    expect(score('d', 'voip-gsm-gateway', [ev('oui', 'weak', 0.3)])?.confidence).toBe('low');
    expect(score('d', 'voip-gsm-gateway', [ev('sip-user-agent', 'weak', 0.35)])?.confidence).toBe('low');
  });

  it('does not let two rows of the same category count as independent', () => {
    const f = score('d', 'voip-gsm-gateway', [ev('oui', 'weak', 0.3), ev('oui', 'weak', 0.3)]);
    expect(f?.categories).toEqual(['oui']);
    expect(f?.score).toBeCloseTo(0.3);
  });

  it('needs two independent categories, one of them not weak, for high confidence', () => {
    expect(score('d', 'voip-gsm-gateway', [ev('goip-sms-protocol', 'strong', 0.9)])?.confidence).toBe('medium');
    expect(score('d', 'voip-gsm-gateway', [ev('goip-sms-protocol', 'strong', 0.9), ev('oui', 'weak', 0.3)])?.confidence).toBe('high');
  });

  it('lets family-neutral gateway evidence support a named family without naming another', () => {
    const f = score('d', 'voip-gsm-gateway', [ev('sip-lines', 'weak', 0.3, 'gateway'), ev('sdp-origin', 'medium', 0.5)]);
    expect(f?.family).toBe('goip');
    expect(score('d', 'voip-gsm-gateway', [ev('sip-lines', 'weak', 0.3, 'gateway')])?.family).toBe('gateway');
  });

  it('gives a finding a stable id per device and kind', () => {
    const a = score('mac:38:3f:10:00:00:01', 'voip-gsm-gateway', [ev('oui', 'weak', 0.3)]);
    const b = score('mac:38:3f:10:00:00:01', 'voip-gsm-gateway', [ev('ddns', 'strong', 0.85)]);
    expect(a?.id).toBe(b?.id);
    expect(a?.id).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('devices and inventory', () => {
  it('merges what was seen of an IP into the device of its MAC', () => {
    const r = detect([sipRegister('192.168.1.20', 'sip:101@pbx', 'dble'), mac('38:3f:10:00:00:01', '192.168.1.20')]);
    expect(r.devices.map((d) => d.key)).toEqual(['mac:38:3f:10:00:00:01']);
    const f = r.findings[0]!;
    expect(f.device).toBe('mac:38:3f:10:00:00:01');
    expect(f.evidence.map((e) => e.signature).sort()).toEqual(['oui-dbl', 'sip-ua-dble']);
  });

  it('keeps an office PBX trunk with many lines at low confidence', () => {
    const obs = Array.from({ length: 24 }, (_, i) => sipRegister('10.1.1.5', `sip:${200 + i}@carrier`, 'Asterisk PBX 18.20.0'));
    const r = detect(obs);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({ family: 'gateway', confidence: 'low' });
  });

  it('does not call the GOIP Global Services OUI look-alike a GoIP', () => {
    const r = detect([mac('98:9d:b2:11:22:33', '192.168.1.40')]);
    expect(r.findings).toEqual([]);
    expect(lookupOui('98:9d:b2:11:22:33')?.note).toMatch(/NOT a DBL GoIP/);
    expect(lookupOui('70:b3:d5:44:c1:23')?.note).toMatch(/NOT the Chinese Ejoin/);
  });

  it('counts an SMS resent with the same recvid once, with its copies', () => {
    const sms = (frame: number): Observation => ({
      kind: 'goip-sms', recvId: 1571812849, channelId: 'goip-1', sender: '1069', body: '验证码123456;勿告诉他人:', device: { ip: '192.168.1.20' }, ts: frame, ref: { file: 0, frames: [frame] },
    });
    const r = detect([sms(1), sms(2), sms(3)]);
    expect(r.sms).toHaveLength(1);
    expect(r.sms[0]).toMatchObject({ copies: 3, body: '验证码123456;勿告诉他人:' });
    expect(r.sms[0]!.refs.map((x) => x.frames[0])).toEqual([1, 2, 3]);
  });

  it('builds the SIM inventory from keep-alives with signal in dBm and ignores all-zero identifiers', () => {
    const ka = (imsi: string): Observation => ({
      kind: 'goip-keepalive', count: 1, channelId: 'goip-1', signal: 29, imei: '867495023958030', imsi, iccid: '00000000000000000000',
      lac: '7E5', cell: '5E5B', fields: [], device: { ip: '192.168.1.20' }, ts: 1, ref,
    });
    const r = detect([ka('260060172091324')]);
    expect(r.sims).toEqual([expect.objectContaining({ channel: 'goip-1', imsi: '260060172091324', imei: '867495023958030', signalDbm: -55, lac: '7E5', cell: '5E5B' })]);
    expect(r.sims[0]!.iccid).toBeUndefined();
  });
});

describe('vendor SMS APIs as evidence', () => {
  // goip-protocols.md §2.5 (antirek/openvox-sms): OpenVox gateways send SMS through the AMI CLI.
  const ami = (action: string, command: string): Observation => ({
    kind: 'ami', action, command, device: { ip: '192.168.1.60', port: 5038 }, ts: 1, ref,
  });
  it('names OpenVox from an AMI "gsm send sms" command and nothing from an ordinary Asterisk command', () => {
    expect(detect([ami('Command', 'gsm send sync sms 1 +8613800138000 "hi" 30')]).findings[0]).toMatchObject({ family: 'openvox', confidence: 'medium' });
    expect(detect([ami('Command', 'core show channels')]).findings).toEqual([]);
  });
});

describe('live use', () => {
  it('gives the same result when finish() is called twice (the probe calls it periodically)', () => {
    const engine = new DetectionEngine(builtinSignatures());
    for (let i = 0; i < 6; i++) engine.observe(sipRegister('192.168.1.20', `sip:10${i}@pbx`, 'dble'));
    engine.observe(mac('38:3f:10:00:00:01', '192.168.1.20'));
    const a = engine.finish();
    const b = engine.finish();
    expect(b).toEqual(a);
    expect(a.findings[0]!.evidence.find((e) => e.signature === 'sip-many-lines')?.count).toBe(1);
  });
});
