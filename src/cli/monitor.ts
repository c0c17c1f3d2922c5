import type { Command } from 'commander';
import { startMonitor, type MonitorEvent } from '../report/monitor.js';

function line(e: MonitorEvent): string {
  if (e.type === 'status') return `${e.at}  ${e.probe}  is ${e.state.toUpperCase()}`;
  const p = e.payload;
  const kind = e.topic.split('/').pop();
  if (kind === 'findings') {
    const f = (p.finding ?? p) as Record<string, unknown>;
    return `${String(p.at ?? '')}  ${e.probe}  FINDING ${String(f.kind ?? '')} ${String(f.device ?? '')} ${String(f.family ?? '')} ${String(f.confidence ?? '')}`.replace(/\s+/g, ' ');
  }
  if (kind === 'heartbeat') return `${String(p.at ?? '')}  ${e.probe}  heartbeat`;
  return `${String(p.at ?? '')}  ${e.probe}  ${kind} ${e.id ?? ''}`;
}

export function registerMonitor(program: Command): void {
  program
    .command('monitor')
    .description('central-side view: probes online/offline, last heartbeat, findings as they arrive (MQTT 5 shared subscription)')
    .requiredOption('--broker <url>', 'mqtt://host:1883 or mqtts://host:8883')
    .option('--base <topic>', 'base topic', 'goipwatch')
    .option('--group <name>', 'shared-subscription group: monitors in one group split the messages', 'goipwatch-monitor')
    .option('--json', 'stream one JSON object per line')
    .option('--seconds <n>', 'stop after n seconds (default: until Ctrl-C)', (v) => Number(v))
    .action(async (opts: { broker: string; base: string; group: string; json?: boolean; seconds?: number }) => {
      const { monitor, stop } = await startMonitor({
        url: opts.broker, baseTopic: opts.base, group: opts.group,
        onEvent: (e) => process.stdout.write(`${opts.json ? JSON.stringify(e) : line(e)}\n`),
      });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
        if (opts.seconds && opts.seconds > 0) setTimeout(resolve, opts.seconds * 1000).unref();
      });
      await stop();
      if (!opts.json) {
        for (const v of monitor.probes.values()) process.stdout.write(`probe ${v.probe}: ${v.state}, ${v.findings} finding message(s), last heartbeat ${v.lastHeartbeat ?? 'never'}\n`);
        process.stdout.write(`${monitor.duplicates} duplicate(s) and ${monitor.malformed} malformed message(s) skipped\n`);
      }
    });
}
