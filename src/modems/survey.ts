/**
 * Survey of one module over AT: identity, SIM, network, signal and cells, read-only.
 *
 *   AT+CGMI/+CGMM/+CGMR (ATI fallback) ─► chooseDriver ─► driver.init
 *   AT+CGSN ─► AT+CPIN? ─► AT+CIMI ─► driver.readIccid ─► AT+CNUM
 *   AT+COPS=3,0;+COPS? and 3,2 ─► AT+CREG?/+CGREG?/+CEREG? ─► AT+CSQ ─► AT+CESQ ─► driver.readCells
 *   AT+SIMDATA=? (remote-SIM marker, goip-protocols.md §1.7)
 *
 * A failing command is recorded and the survey goes on: a module without a SIM still has an IMEI.
 * Every identifier keeps the transcript line of the command that read it.
 */
import type { AtCommandOptions, AtResponse, AtRunner } from '../at/types.js';
import type { ModemDriver, DriverId, ModuleIdentity } from '../../drivers/types.js';
import { chooseDriver } from '../../drivers/index.js';
import {
  isParseError, parseAti, parseCesq, parseCimi, parseCnum, parseCopsRead, parseCpin, parseCsq, parseIdentityValue,
  parseImei, parseRegistrationAnswer, type Parsed, type Registration,
} from '../at/parsers.js';
import { describeError } from '../errors.js';
import type { PortSurvey, TranscriptRef } from './types.js';

export interface SurveyOptions {
  /** Use this driver whatever the module says (config `driver:`). */
  driver?: DriverId;
}

/** Run one command and parse its answer; on any failure record why and give undefined. */
async function read<T>(
  at: AtRunner, survey: PortSurvey, command: string, parse: (r: AtResponse) => Parsed<T>, opts?: AtCommandOptions,
): Promise<{ value: T; ref: TranscriptRef } | undefined> {
  let r: AtResponse;
  try {
    r = await at.send(command, opts);
  } catch (e) {
    survey.errors.push({ command, error: describeError(e) });
    return undefined;
  }
  if (r.final !== 'OK' && r.final !== 'CUSTOM') {
    survey.errors.push({ command, error: r.finalLine || r.final });
    return undefined;
  }
  const value = parse(r);
  if (isParseError(value)) {
    survey.errors.push({ command, error: `unreadable answer: ${value.error}` });
    return undefined;
  }
  return { value, ref: { port: at.port, line: r.transcriptLines[0] } };
}

export async function surveyModule(at: AtRunner, opts: SurveyOptions = {}): Promise<{ survey: PortSurvey; driver: ModemDriver }> {
  const t0 = performance.now();
  const survey: PortSurvey = {
    port: at.port, driver: 'generic', answered: false, cells: [], remoteSimMarkers: 0, errors: [], refs: {},
    startedAt: new Date().toISOString(), durationMs: 0,
  };
  const lines = (r: AtResponse) => r.lines;
  // Identity first: it picks the dialect.
  const identity: ModuleIdentity = {};
  const ping = await read(at, survey, 'AT', () => true);
  survey.answered = ping !== undefined;
  if (!survey.answered) {
    survey.durationMs = Math.round(performance.now() - t0);
    return { survey, driver: chooseDriver(identity, opts.driver) };
  }
  identity.manufacturer = (await read(at, survey, 'AT+CGMI', (r) => parseIdentityValue(lines(r))))?.value;
  const model = await read(at, survey, 'AT+CGMM', (r) => parseIdentityValue(lines(r)));
  identity.model = model?.value;
  identity.revision = (await read(at, survey, 'AT+CGMR', (r) => parseIdentityValue(lines(r))))?.value;
  if (!identity.manufacturer || !identity.model) {
    const ati = await read(at, survey, 'ATI', (r) => parseAti(lines(r)));
    identity.ati = ati?.value.text;
    identity.manufacturer ??= ati?.value.manufacturer;
    identity.model ??= ati?.value.model;
    identity.revision ??= ati?.value.revision;
  }
  const driver = chooseDriver(identity, opts.driver);
  survey.driver = driver.id;
  Object.assign(survey, { manufacturer: identity.manufacturer, model: identity.model, revision: identity.revision });
  if (model) survey.refs.model = model.ref;
  try {
    await driver.init(at);
  } catch (e) {
    survey.errors.push({ command: `${driver.id} init`, error: describeError(e) });
  }

  const imei = await read(at, survey, 'AT+CGSN', (r) => parseImei(lines(r)));
  if (imei) {
    survey.imei = imei.value.imei;
    survey.refs.imei = imei.ref;
  }
  // The dialect knows when a command has no final result (Wavecom +CPIN? without OK, at-commands.md §3.4).
  const cpinOpts: AtCommandOptions = driver.commandOptions?.('AT+CPIN?') ?? {};
  let cpinError: string | undefined;
  try {
    const r = await at.send('AT+CPIN?', cpinOpts);
    const state = parseCpin(r.lines, r.errorCode);
    if (!isParseError(state)) survey.simState = state.state;
    else cpinError = state.error;
  } catch (e) {
    cpinError = describeError(e);
  }
  if (cpinError) survey.errors.push({ command: 'AT+CPIN?', error: cpinError });

  if (survey.simState === 'READY' || survey.simState === undefined) {
    const imsi = await read(at, survey, 'AT+CIMI', (r) => parseCimi(lines(r)));
    if (imsi) {
      survey.imsi = imsi.value;
      survey.refs.imsi = imsi.ref;
    }
    try {
      const iccid = await driver.readIccid(at);
      if (iccid) survey.iccid = iccid;
    } catch (e) {
      survey.errors.push({ command: `${driver.id} ICCID`, error: describeError(e) });
    }
    const cnum = await read(at, survey, 'AT+CNUM', (r) => parseCnum(lines(r)));
    if (cnum && cnum.value[0]) {
      survey.msisdn = cnum.value[0].number;
      survey.refs.msisdn = cnum.ref;
    }
  }

  const opName = await read(at, survey, 'AT+COPS=3,0;+COPS?', (r) => parseCopsRead(lines(r)));
  const opNum = await read(at, survey, 'AT+COPS=3,2;+COPS?', (r) => parseCopsRead(lines(r)));
  if (opName || opNum) {
    const numeric = opNum?.value.mcc && opNum.value.mnc ? `${opNum.value.mcc}${opNum.value.mnc}` : opNum?.value.operator;
    survey.operator = { name: opName?.value.operator, numeric, act: opName?.value.accessTechnology ?? opNum?.value.accessTechnology };
  }
  // The first registration that says "registered" wins: LTE (CEREG) modules may report CREG idle.
  // n=2 makes the read include LAC/TAC and cell id (27.007 §7.2); a volatile setting, not saved.
  let reg: Registration | undefined;
  for (const cmd of ['AT+CREG?', 'AT+CGREG?', 'AT+CEREG?']) {
    try {
      await at.send(cmd.replace('?', '=2'));
    } catch (e) {
      survey.errors.push({ command: cmd.replace('?', '=2'), error: describeError(e) });
    }
    const r = await read(at, survey, cmd, (x) => parseRegistrationAnswer(lines(x)));
    if (r && (!reg || (!reg.registered && r.value.registered))) reg = r.value;
  }
  if (reg) {
    survey.registration = { stat: reg.stat, state: reg.state, lac: reg.lac, tac: reg.tac, cellId: reg.ci, act: reg.accessTechnology };
  }
  const csq = await read(at, survey, 'AT+CSQ', (r) => parseCsq(lines(r)));
  const cesq = await read(at, survey, 'AT+CESQ', (r) => parseCesq(lines(r)));
  if (csq || cesq) {
    survey.signal = {
      csq: csq?.value.rssi, rssiDbm: csq?.value.rssiDbm ?? cesq?.value.rxlevDbm, rsrpDbm: cesq?.value.rsrpDbm,
      rsrqDb: cesq?.value.rsrqDb, rscpDbm: cesq?.value.rscpDbm,
    };
  }
  try {
    survey.cells = await driver.readCells(at);
  } catch (e) {
    survey.errors.push({ command: `${driver.id} cells`, error: describeError(e) });
  }
  // A module that knows AT+SIMDATA talks to a remote SIM bank (goip-protocols.md §1.7 [RE]).
  try {
    const r = await at.send('AT+SIMDATA=?');
    if (r.final === 'OK') survey.remoteSimMarkers++;
  } catch (e) {
    survey.errors.push({ command: 'AT+SIMDATA=?', error: describeError(e) });
  }
  survey.durationMs = Math.round(performance.now() - t0);
  return { survey, driver };
}
