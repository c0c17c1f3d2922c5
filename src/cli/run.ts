import type { Command } from 'commander';
import { loadConfig, resolveConfigPath } from '../config/load.js';
import { Daemon } from '../daemon.js';
import { checkClock } from '../doctor.js';
import { createLogger, componentLogger } from '../log.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('the probe daemon: live capture, modem bank, SQLite store and MQTT reports (under systemd, see docs/operations.md)')
    .option('--config <file>', 'config file (YAML or JSON); default $GOIPWATCH_CONFIG or /etc/goipwatch/config.yaml')
    .action(async (opts: { config?: string }) => {
      const { config, warnings, envApplied } = await loadConfig(resolveConfigPath(opts.config));
      createLogger(config.log.level);
      const log = componentLogger('daemon');
      for (const w of warnings) log.warn(w);
      if (envApplied.length) log.info({ envApplied }, 'settings taken from the environment');
      // Whether the clock is synchronised, as doctor sees it, goes into every heartbeat.
      const daemon = await Daemon.start(config, {
        clock: async () => {
          const c = await checkClock(config);
          return { synced: c.ok && !c.skipped, source: c.method };
        },
      });
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      log.info('stopping');
      await daemon.stop();
      // Everything is stored and the broker told; a live capture handle may still hold the event
      // loop (LiveCapture.stop), so leave rather than wait for a packet that may never come.
      setTimeout(() => process.exit(), 200).unref();
    });
}
