/**
 * The probe's configuration after loading: every default filled in, every path absolute, secrets
 * read from their files or the environment. src/config/schema.json is the single source of truth
 * for names, units, ranges and defaults; these types mirror it (test/unit/config.test.ts checks
 * that a config loaded from `{}` has exactly the keys the schema declares).
 */
import type { DriverId } from '../../drivers/types.js';
import type { BehaviourConfig } from '../behaviour/types.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface ProbeConfig {
  /** Topic-safe id (1–64 of [A-Za-z0-9_-]); default: the host name. */
  id: string;
  /** Absolute; default /var/lib/goipwatch. */
  stateDir: string;
}

export interface CaptureConfig {
  /** Empty: no live capture. Default ['eth0']. */
  interfaces: string[];
  /** Extra BPF filter, '' for everything. */
  filter: string;
  /** Kernel buffer per interface, MiB (1–512). */
  bufferSizeMb: number;
  /** Bytes per packet (64–262144). */
  snaplen: number;
  /** Seconds between taking the detector's results into the store and the outbox (1–3600). */
  reportIntervalS: number;
  /** MiB of recent packets kept in memory per interface for evidence files (1–256). */
  evidenceBufferMb: number;
  /** MiB the evidence files may use in <stateDir>/evidence (1–65536); never deleted by the probe. */
  evidenceMaxMb: number;
}

export interface ModemPortConfig {
  /** /dev/serial/by-path/… or /dev/serial/by-id/… */
  path: string;
  driver: 'auto' | DriverId;
}

export interface ModemsConfig {
  enabled: boolean;
  /** Empty: every port found under /dev/serial/by-path. */
  ports: ModemPortConfig[];
  /** Seconds between surveys (60–86400). */
  surveyIntervalS: number;
  /** Listen for RING/+CLIP/+CMTI between surveys. */
  listen: boolean;
}

export interface StoreConfig {
  /** Absolute path of the SQLite file. */
  path: string;
  /** MiB (16–1048576). */
  quotaMb: number;
}

export interface MqttTlsConfig {
  /** Absolute paths of PEM files. */
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
}

export interface MqttConfig {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  baseTopic: string;
  /** Client id = clientIdPrefix + probe.id. */
  clientIdPrefix: string;
  username?: string;
  /** Resolved secret (from password, passwordFile or the environment). Never log it: use redactConfig. */
  password?: string;
  /** Where the password came from, when it was a file (for messages). */
  passwordFile?: string;
  tls: MqttTlsConfig;
  identifiers: 'full' | 'hashed';
  /** Resolved secret; present when identifiers is 'hashed'. */
  hashKey?: string;
  hashKeyFile?: string;
  /** Seconds (10–3600). */
  keepaliveS: number;
  backoff: {
    /** ms (100–60000) */
    initialMs: number;
    /** ms (1000–3600000), ≥ initialMs */
    maxMs: number;
  };
}

export interface GoipwatchConfig {
  version: 1;
  probe: ProbeConfig;
  capture: CaptureConfig;
  modems: ModemsConfig;
  store: StoreConfig;
  /** Absent: results stay on the probe. */
  mqtt?: MqttConfig;
  heartbeat: {
    /** Seconds (10–86400). */
    intervalS: number;
  };
  clock: {
    ntpCheck: boolean;
  };
  log: {
    level: LogLevel;
  };
  /** Behaviour analysis: every key filled from src/behaviour/defaults.ts where the file leaves it out. */
  behaviour: BehaviourConfig;
}

/** One problem found while loading, in the user's words. */
export interface ConfigProblem {
  /** Dotted path in the document, e.g. "mqtt.url" ("" for the whole document). */
  path: string;
  message: string;
  /** 1-based line in the file, when known. */
  line?: number;
  /** The environment variable that supplied the value, when it came from there. */
  env?: string;
}

export interface LoadedConfig {
  config: GoipwatchConfig;
  /** The file read, absolute; undefined when loaded from an object. */
  file?: string;
  /** Environment variables that were applied (names only). */
  envApplied: string[];
  /** Things that are allowed but unwise (e.g. a password inline in a world-readable file). */
  warnings: string[];
}
