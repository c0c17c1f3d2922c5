import pino, { type Logger } from 'pino';

/**
 * Logs go to stderr (stdout carries the command's result: a table or JSON). Pretty on a terminal,
 * JSON lines otherwise (journald, CI). Level from GOIPWATCH_LOG_LEVEL or --log-level.
 */
let root: Logger | undefined;

export function createLogger(level = process.env.GOIPWATCH_LOG_LEVEL ?? 'info'): Logger {
  const pretty = process.stderr.isTTY && process.env.GOIPWATCH_LOG_FORMAT !== 'json';
  if (pretty) {
    root = pino({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  } else {
    root = pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
  }
  return root;
}

export function logger(): Logger {
  return root ?? createLogger();
}

/** A child logger per component, e.g. `componentLogger('replay', { file })`. */
export function componentLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return logger().child({ component, ...bindings });
}
