import type { Command } from 'commander';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replay } from '../replay.js';
import { outputReplay } from './replay.js';
import { componentLogger } from '../log.js';
import { runLiveDemo } from './demo-live.js';

/** The repository root, from dist/src/cli or src/cli. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'fixtures'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

interface ManifestEntry {
  file: string;
  partial?: boolean;
  unreadable?: boolean;
}

/** The bundled fixtures that are whole captures (the bad-input ones are for the tests, not the demo). */
export function demoCaptures(root: string): string[] {
  const dir = join(root, 'fixtures');
  const manifests = [join(dir, 'manifest.json'), ...readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory()).map((d) => join(dir, d.name, 'manifest.json'))].filter((m) => existsSync(m));
  if (manifests.length === 0) return [dir];
  return manifests.flatMap((m) => (JSON.parse(readFileSync(m, 'utf8')) as { captures: ManifestEntry[] }).captures)
    .filter((c) => !c.partial && !c.unreadable)
    .map((c) => join(dir, c.file));
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('replay the bundled fixtures (and ../shared/external captures when present), then run the live probe pipeline on a simulated modem bank with an embedded broker')
    .option('--json', 'print one JSON document instead of the table')
    .option('--db <path>', 'also keep the results in this SQLite file')
    .option('--no-live', 'only the replay, not the live probe pipeline')
    .action(async (opts: { json?: boolean; db?: string; live: boolean }) => {
      const root = repoRoot();
      const inputs = demoCaptures(root);
      const external = resolve(root, '..', 'shared', 'external');
      if (existsSync(external)) inputs.push(external);
      componentLogger('demo').info({ inputs }, 'replaying the demo captures (no hardware needed)');
      const report = await replay(inputs.filter(existsSync));
      outputReplay(report, opts);
      if (opts.live && !opts.json) {
        process.stdout.write('\nLIVE PIPELINE (no hardware): probe daemon + simulated modem bank + embedded MQTT broker\n');
        await runLiveDemo(join(root, 'fixtures', 'goip-sms-server.pcapng'), (l) => process.stdout.write(`${l}\n`));
      }
      // The demo's inputs are ours: a partial file there is a bug, but it must not hide the results.
      process.exitCode = report.partial ? 3 : 0;
    });
}
