import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The package version, read once from package.json (two levels up from src/ and from dist/src/). */
export function toolVersion(): string {
  if (cached) return cached;
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'goipwatch' && pkg.version) return (cached = pkg.version);
    } catch {
      // not at this level: try the next one up
    }
  }
  return (cached = '0.0.0');
}
