/**
 * MAC prefix → vendor name, for the device table. A vendor name alone is never a finding: the
 * signatures decide (`oui-*` rows, weak). The table also names the look-alikes that are NOT
 * gateway makers (goip-protocols.md §2.1), so a lab report can say so instead of leaving a doubt.
 */
import table from './oui.json' with { type: 'json' };

export interface OuiEntry {
  prefix: string;
  vendor: string;
  note?: string;
}

const entries: OuiEntry[] = (table.entries as OuiEntry[])
  .map((e) => ({ ...e, prefix: e.prefix.toLowerCase() }))
  // Longest prefix first, so an MA-M/MA-S block wins over a plain OUI.
  .sort((a, b) => b.prefix.length - a.prefix.length);

export function lookupOui(mac: string): OuiEntry | undefined {
  const m = mac.toLowerCase();
  return entries.find((e) => m.startsWith(e.prefix));
}
