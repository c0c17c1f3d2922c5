/**
 * Real third-party captures: shared/external/nicelabs-goip (published in NiceLabs/dbltek-goip-agent,
 * docs/captured/, by people unrelated to this project). Its README describes two GoIP gateways;
 * replaying the three files together must find both, each with several independent pieces of
 * evidence pointing at file and frame numbers.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { replay, type ReplayReport } from '../../src/replay.js';

const dir = resolve(__dirname, '../../../shared/external/nicelabs-goip');
const files = readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort().map((f) => join(dir, f));

describe('replay of the NiceLabs GoIP captures (real, third-party)', () => {
  let report: ReplayReport;
  const before = files.map((f) => ({ f, mtime: statSync(f).mtimeMs, sha: createHash('sha256').update(readFileSync(f)).digest('hex') }));

  beforeAll(async () => {
    report = await replay(files);
  });

  it('reads all three files completely', () => {
    expect(report.inputs.map((i) => [i.name, i.status, i.frames])).toEqual([
      ['ddns.pcap', 'ok', 2],
      ['smtp.pcap', 'ok', 44],
      ['startup.pcap', 'ok', 31],
    ]);
    expect(report.partial).toBe(false);
  });

  it('records the SHA-256 of each input and leaves the files untouched', () => {
    for (const b of before) {
      const input = report.inputs.find((i) => i.path === b.f);
      expect(input?.sha256).toBe(b.sha);
      expect(statSync(b.f).mtimeMs).toBe(b.mtime);
      expect(createHash('sha256').update(readFileSync(b.f)).digest('hex')).toBe(b.sha);
    }
  });

  it('finds exactly the two GoIP gateways the README describes, keyed by MAC', () => {
    const gateways = report.findings.filter((f) => f.kind === 'voip-gsm-gateway');
    expect(gateways.map((g) => g.device).sort()).toEqual(['mac:38:3f:10:05:64:80', 'mac:38:3f:10:05:d7:9d']);
    for (const g of gateways) {
      expect(g.family).toBe('goip');
      expect(['medium', 'high']).toContain(g.confidence);
      expect(g.categories.length).toBeGreaterThanOrEqual(2);
    }
  });

  it('ties the booting gateway (192.168.1.31) to its DHCP vendor class, OUI and vendor time servers', () => {
    const g = report.findings.find((f) => f.device === 'mac:38:3f:10:05:d7:9d')!;
    const sigs = g.evidence.map((e) => e.signature);
    expect(sigs).toEqual(expect.arrayContaining(['dhcp-vendor-class-dbl', 'oui-dbl', 'dns-vendor-ntp-hosts']));
    const device = report.devices.find((d) => d.key === g.device)!;
    expect(device.ips).toContain('192.168.1.31');
    expect(device.vendorClasses).toContain('dbl');
    const startup = report.inputs.findIndex((i) => i.name === 'startup.pcap');
    const dhcp = g.evidence.find((e) => e.signature === 'dhcp-vendor-class-dbl')!;
    expect(dhcp.refs[0]!.file).toBe(startup);
    expect(dhcp.refs[0]!.frames.length).toBeGreaterThan(0);
  });

  it('ties the other gateway (192.168.1.30) to its DDNS serial and the SMS it forwarded by e-mail', () => {
    const g = report.findings.find((f) => f.device === 'mac:38:3f:10:05:64:80')!;
    const sigs = g.evidence.map((e) => e.signature);
    expect(sigs).toEqual(expect.arrayContaining(['vendor-ddns', 'smtp-sms-forward']));
    const device = report.devices.find((d) => d.key === g.device)!;
    expect(device.ips).toContain('192.168.1.30');
    expect(device.serials).toContain('8MCDRM18047247');
    const sms = report.sms.filter((m) => m.device === g.device);
    expect(sms).toHaveLength(1);
    expect(sms[0]!.channel).toBe('8');
    const smtp = report.inputs.findIndex((i) => i.name === 'smtp.pcap');
    expect(sms[0]!.refs[0]!.file).toBe(smtp);
  });

  it('reports no SMS server and nothing else as a gateway', () => {
    expect(report.findings.filter((f) => f.kind === 'sms-server')).toEqual([]);
  });
});
