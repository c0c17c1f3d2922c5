import { defaultBehaviourConfig } from '../../src/behaviour/defaults.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configFromObject, defaultProbeId, loadConfig, redactConfig, resolveConfigPath } from '../../src/config/load.js';
import schema from '../../src/config/schema.json' with { type: 'json' };
import { ErrorCodes, GoipwatchError } from '../../src/errors.js';

const example = resolve(import.meta.dirname, '../../config/goipwatch.example.yaml');
const noEnv = {};
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'goipwatch-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text, { mode: 0o640 });
  return path;
}

/** The GoipwatchError a load throws (fails the test when it does not throw one). */
async function loadError(text: string, env: NodeJS.ProcessEnv = noEnv): Promise<GoipwatchError> {
  const file = await writeConfig(`bad-${Math.random().toString(36).slice(2)}.yaml`, text);
  try {
    await loadConfig(file, { env });
  } catch (e) {
    if (e instanceof GoipwatchError) return e;
    throw e;
  }
  throw new Error('expected a configuration error');
}

/** Every key path the schema declares under `properties` (objects only, not array items). */
function schemaKeys(node: { properties?: Record<string, unknown> }, prefix = ''): string[] {
  return Object.entries(node.properties ?? {}).flatMap(([k, v]) => {
    const child = v as { type?: string; properties?: Record<string, unknown> };
    return [`${prefix}${k}`, ...(child.type === 'object' ? schemaKeys(child, `${prefix}${k}.`) : [])];
  });
}

function objectKeys(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => [`${prefix}${k}`, ...objectKeys(v, `${prefix}${k}.`)]);
}

describe('config loading', () => {
  it('loads the commented example with the password from the environment', async () => {
    const { config, envApplied, warnings } = await loadConfig(example, { env: { GOIPWATCH_MQTT_PASSWORD: 's3cret-pass' } });
    expect(config.probe.id).toBe('probe-01');
    expect(config.capture.interfaces).toEqual(['eth0']);
    expect(config.store.path).toBe('/var/lib/goipwatch/goipwatch.db');
    expect(config.mqtt?.url).toBe('mqtts://broker.example.org:8883');
    expect(config.mqtt?.password).toBe('s3cret-pass');
    expect(config.mqtt?.passwordFile).toBeUndefined();
    expect(config.mqtt?.tls.ca).toBe('/etc/goipwatch/ca.crt');
    expect(envApplied).toEqual(['GOIPWATCH_MQTT_PASSWORD']);
    expect(warnings).toEqual([]);
  });

  it('fills every default from the schema for an empty document', async () => {
    const { config } = await configFromObject({}, { env: noEnv, hostname: 'pi-flat12.local', baseDir: '/etc/goipwatch' });
    expect(config).toEqual({
      version: 1,
      probe: { id: 'pi-flat12', stateDir: '/var/lib/goipwatch' },
      capture: { interfaces: ['eth0'], filter: '', bufferSizeMb: 16, snaplen: 65535, reportIntervalS: 10, evidenceBufferMb: 8, evidenceMaxMb: 256 },
      modems: { enabled: true, ports: [], surveyIntervalS: 900, listen: true },
      store: { path: '/var/lib/goipwatch/goipwatch.db', quotaMb: 1024 },
      heartbeat: { intervalS: 60 },
      clock: { ntpCheck: true },
      log: { level: 'info' },
      behaviour: defaultBehaviourConfig(),
    });
  });

  it('lays a partial behaviour section over the defaults and names a broken number-range pattern', async () => {
    const { config } = await configFromObject({ behaviour: { threshold: 0.9, features: { lines: { threshold: 16 } }, limits: { rtpIdleMs: 5000 } } }, { env: noEnv });
    const d = defaultBehaviourConfig();
    expect(config.behaviour.threshold).toBe(0.9);
    expect(config.behaviour.features.lines).toEqual({ ...d.features.lines, threshold: 16 });
    expect(config.behaviour.features.answerRatio).toEqual(d.features.answerRatio);
    expect(config.behaviour.limits).toEqual({ ...d.limits, rtpIdleMs: 5000 });
    await expect(configFromObject({ behaviour: { mobileRanges: [{ name: 'x', pattern: '^(13', source: 'test' }] } }, { env: noEnv }))
      .rejects.toThrow(/behaviour\.mobileRanges\.0\.pattern: is not a regular expression/);
    await expect(configFromObject({ behaviour: { features: { line: { threshold: 3 } } } }, { env: noEnv }))
      .rejects.toThrow(/behaviour\.features\.line.*did you mean 'lines'/);
  });

  it('declares in the schema exactly the keys a fully loaded config has (types and schema agree)', async () => {
    const { config } = await loadConfig(example, { env: { GOIPWATCH_MQTT_PASSWORD: 'x' } });
    const { config: hashed } = await configFromObject({ mqtt: { url: 'mqtt://h', identifiers: 'hashed', hashKey: 'k'.repeat(16), username: 'u', tls: { cert: 'c', key: 'k' } } }, { env: noEnv });
    const loadedKeys = new Set([...objectKeys(config), ...objectKeys(hashed)]);
    loadedKeys.delete('mqtt.passwordFile'); // replaced by the environment in the first config
    expect([...loadedKeys].sort()).toEqual(schemaKeys(schema).filter((k) => k !== 'mqtt.passwordFile' && k !== 'mqtt.hashKeyFile').sort());
  });

  it('resolves relative paths against the config file and the store against the state directory', async () => {
    const file = await writeConfig('relative.yaml', 'probe: {stateDir: state}\nstore: {path: db/x.db}\nmqtt: {url: "mqtts://b:8883", tls: {ca: ca.pem}}\n');
    const { config } = await loadConfig(file, { env: noEnv });
    expect(config.probe.stateDir).toBe(join(dir, 'state'));
    expect(config.store.path).toBe(join(dir, 'state/db/x.db'));
    expect(config.mqtt?.tls.ca).toBe(join(dir, 'ca.pem'));
  });

  it('accepts a JSON file', async () => {
    const file = await writeConfig('c.json', JSON.stringify({ probe: { id: 'json-probe' }, capture: { interfaces: [] } }));
    const { config } = await loadConfig(file, { env: noEnv });
    expect(config.probe.id).toBe('json-probe');
    expect(config.capture.interfaces).toEqual([]);
  });
});

describe('config mistakes give one readable message per problem (GW_CONFIG)', () => {
  const cases: Array<{ name: string; yaml: string; expected: RegExp[] }> = [
    { name: 'a typo in a key, with a suggestion and the line', yaml: 'capture:\n  interfaces: [eth0]\n  snapLen: 100\n', expected: [/capture\.snapLen \(line 3\): unknown key \(did you mean 'snaplen'\?\)/] },
    { name: 'an unknown section', yaml: 'probes: {id: x}\n', expected: [/probes \(line 1\): unknown key \(did you mean 'probe'\?\)/] },
    { name: 'a value out of range, with the range', yaml: 'capture:\n  snaplen: 10\n', expected: [/capture\.snaplen \(line 2\): must be a whole number from 64 to 262144 \(got 10\)/] },
    { name: 'a bad MQTT url, with an example', yaml: 'mqtt:\n  url: http://broker\n', expected: [/mqtt\.url \(line 2\): must be a string like mqtt:\/\/host:1883 or mqtts:\/\//] },
    { name: 'a missing MQTT url', yaml: 'mqtt:\n  baseTopic: x\n', expected: [/mqtt\.url \(line 2\): is required: it must be a string like mqtt:\/\/host:1883/] },
    { name: 'a wrong enum value', yaml: 'log: {level: verbose}\n', expected: [/log\.level \(line 1\): must be one of "fatal", "error", .* \(got "verbose"\)/] },
    { name: 'a wrong type', yaml: 'modems:\n  listen: "yes please"\n', expected: [/modems\.listen \(line 2\): must be true or false \(got "yes please"\)/] },
    { name: 'a list where a section was expected', yaml: 'capture: [eth0]\n', expected: [/capture \(line 1\): must be a section/] },
    { name: 'a port item without a path', yaml: 'modems:\n  ports:\n    - driver: quectel\n', expected: [/modems\.ports\[0\]\.path \(line 3\): is required/] },
    { name: 'a ttyUSB-style port is accepted but an unknown driver is not', yaml: 'modems:\n  ports:\n    - {path: /dev/ttyUSB0, driver: zte}\n', expected: [/modems\.ports\[0\]\.driver \(line 3\): must be one of "auto", "generic"/] },
    { name: 'several mistakes at once', yaml: 'capture: {snaplen: 1}\nstore: {quotaMb: -1}\nheartbeat: {interval: 5}\n', expected: [/3 problems/, /capture\.snaplen/, /store\.quotaMb/, /heartbeat\.interval .*did you mean 'intervalS'/] },
    { name: 'YAML syntax with its line', yaml: 'probe:\n  id: a\n  id: b\n', expected: [/\(document\) \(line 3\): YAML syntax: Map keys must be unique/] },
    { name: 'an alias to nothing', yaml: 'probe: {id: *nothing}\n', expected: [/\(document\): YAML: Unresolved alias/] },
    { name: 'a document that is not a mapping', yaml: '- eth0\n', expected: [/must be a mapping of sections/] },
    { name: 'password and passwordFile together', yaml: 'mqtt: {url: "mqtt://b", password: hunter2hunter2, passwordFile: /x}\n', expected: [/set either mqtt\.password or mqtt\.passwordFile, not both/] },
    { name: 'hashed identifiers without a key', yaml: 'mqtt: {url: "mqtt://b", identifiers: hashed}\n', expected: [/mqtt\.hashKey.*is required when mqtt\.identifiers is 'hashed'/] },
    { name: 'backoff max below initial', yaml: 'mqtt: {url: "mqtt://b", backoff: {initialMs: 5000, maxMs: 2000}}\n', expected: [/mqtt\.backoff\.maxMs.*must not be below mqtt\.backoff\.initialMs \(5000 ms\)/] },
    { name: 'a password file that cannot be read', yaml: 'mqtt: {url: "mqtt://b", passwordFile: /nonexistent/goipwatch-pw}\n', expected: [/mqtt\.passwordFile: cannot read \/nonexistent\/goipwatch-pw \(ENOENT\)/] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const e = await loadError(c.yaml);
      expect(e.code).toBe(ErrorCodes.Config);
      expect(e.message).toMatch(/\[GW_CONFIG\]$/);
      for (const re of c.expected) expect(e.message).toMatch(re);
    });
  }

  it('names the file, and a missing file says how to fix it', async () => {
    const missing = join(dir, 'nope.yaml');
    await expect(loadConfig(missing, { env: noEnv })).rejects.toThrow(new RegExp(`config ${missing}: file not found \\(copy config/goipwatch.example.yaml`));
    const e = await loadError('capture: {snaplen: 1}\n');
    expect(e.message).toMatch(new RegExp(`^config ${dir}/bad-\\w+\\.yaml: 1 problem`));
    expect(e.context.problems).toEqual([{ path: 'capture.snaplen', message: 'must be a whole number from 64 to 262144 (got 1)', line: 1, env: undefined }]);
  });
});

describe('secrets never appear in messages', () => {
  const secret = 'hunter2-Very-Secret';
  it.each([
    ['a secret of the wrong type', `mqtt: {url: "mqtt://b", password: [${secret}]}\n`],
    ['a hash key that is too short', 'mqtt: {url: "mqtt://b", identifiers: hashed, hashKey: hunter2}\n'],
    ['credentials inside the URL', `mqtt: {url: "mqtt://user:${secret}@b:1883"}\n`],
    ['a YAML syntax error on the password line', `mqtt:\n  url: mqtt://b\n  password: "${secret}\n`],
    ['both password and file', `mqtt: {url: "mqtt://b", password: ${secret}, passwordFile: /x}\n`],
    ['a stray token after the password', `- a\n"${secret}": b\n`],
  ])('%s', async (_name, yaml) => {
    const e = await loadError(yaml);
    expect(e.message).not.toContain(secret);
    expect(e.message).not.toContain('hunter2');
    expect(JSON.stringify(e.context)).not.toContain('hunter2');
  });

  it('a bad secret from the environment names the variable, not the value', async () => {
    const e = await loadError('mqtt: {url: "mqtt://b", identifiers: hashed}\n', { GOIPWATCH_HASH_KEY: 'hunter2' });
    expect(e.message).toMatch(/mqtt\.hashKey \(from GOIPWATCH_HASH_KEY\): must be at least 16 characters/);
    expect(e.message).not.toContain('hunter2');
  });

  it('redactConfig hides the password and hash key', async () => {
    const { config } = await configFromObject({ mqtt: { url: 'mqtt://b', password: secret, identifiers: 'hashed', hashKey: `${secret}-key` } }, { env: noEnv });
    expect(JSON.stringify(redactConfig(config))).not.toContain(secret);
    expect(config.mqtt?.password).toBe(secret);
  });

  it('warns when a file holding a password is world-readable', async () => {
    const file = await writeConfig('open.yaml', `mqtt: {url: "mqtts://b", password: ${secret}}\n`);
    const { chmod } = await import('node:fs/promises');
    await chmod(file, 0o644);
    const { warnings } = await loadConfig(file, { env: noEnv });
    expect(warnings.join('\n')).toMatch(/readable by every user: chmod 0640/);
    expect(warnings.join('\n')).not.toContain(secret);
  });
});

describe('environment overrides', () => {
  it('take the password and hash key from files named in the environment', async () => {
    const pw = await writeConfig('pw', 'from-file-pw\n');
    const key = await writeConfig('key', '0123456789abcdef0123\n');
    const { config, envApplied } = await configFromObject({ mqtt: { url: 'mqtt://b', password: 'inline', identifiers: 'hashed' } }, {
      env: { GOIPWATCH_MQTT_PASSWORD_FILE: pw, GOIPWATCH_HASH_KEY_FILE: key, GOIPWATCH_PROBE_ID: 'env-probe', GOIPWATCH_LOG_LEVEL: 'debug' },
    });
    expect(config.mqtt?.password).toBe('from-file-pw');
    expect(config.mqtt?.hashKey).toBe('0123456789abcdef0123');
    expect(config.probe.id).toBe('env-probe');
    expect(config.log.level).toBe('debug');
    expect(envApplied.sort()).toEqual(['GOIPWATCH_HASH_KEY_FILE', 'GOIPWATCH_LOG_LEVEL', 'GOIPWATCH_MQTT_PASSWORD_FILE', 'GOIPWATCH_PROBE_ID']);
  });

  it('a direct value wins over a file, and empty variables are ignored', async () => {
    const { config, warnings } = await configFromObject({ mqtt: { url: 'mqtt://b' } }, {
      env: { GOIPWATCH_MQTT_PASSWORD_FILE: '/nonexistent', GOIPWATCH_MQTT_PASSWORD: 'direct', GOIPWATCH_MQTT_USERNAME: '' },
    });
    expect(config.mqtt?.password).toBe('direct');
    expect(config.mqtt?.username).toBeUndefined();
    expect(warnings.join()).toMatch(/GOIPWATCH_MQTT_PASSWORD overrides GOIPWATCH_MQTT_PASSWORD_FILE/);
  });

  it('an invalid value from the environment is reported with the variable name', async () => {
    const e = await loadError('{}\n', { GOIPWATCH_MQTT_URL: 'broker:1883' });
    expect(e.message).toMatch(/mqtt\.url \(from GOIPWATCH_MQTT_URL\): must be a string like mqtt:\/\//);
  });

  it('the config path comes from --config, else GOIPWATCH_CONFIG, else /etc/goipwatch/config.yaml', () => {
    expect(resolveConfigPath('/tmp/a.yaml', { GOIPWATCH_CONFIG: '/tmp/b.yaml' })).toBe('/tmp/a.yaml');
    expect(resolveConfigPath(undefined, { GOIPWATCH_CONFIG: '/tmp/b.yaml' })).toBe('/tmp/b.yaml');
    expect(resolveConfigPath(undefined, {})).toBe('/etc/goipwatch/config.yaml');
  });

  it('warns about /dev/ttyUSBn ports, which renumber', async () => {
    const { warnings } = await configFromObject({ modems: { ports: [{ path: '/dev/ttyUSB3' }] } }, { env: noEnv });
    expect(warnings.join()).toMatch(/\/dev\/ttyUSB3 may name another modem .*by-path/);
  });

  it('derives a topic-safe probe id from the host name', () => {
    expect(defaultProbeId('pi-flat12.local')).toBe('pi-flat12');
    expect(defaultProbeId('Probe #3')).toBe('Probe--3');
    expect(defaultProbeId('')).toBe('goipwatch-probe');
  });
});
