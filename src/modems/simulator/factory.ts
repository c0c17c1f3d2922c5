/**
 * Builds the state of one simulated module and its SIM from a seed, so that a test can say
 * "a SIM800 with a China Mobile SIM and 6 messages" in one line and get the same module each run.
 *
 *   ModemSpec ──► IMEI (profile TAC)   ──► ModemState ──► new SimulatedModem(...)
 *             ├─► SimCard (IMSI, ICCID, MSISDN?, SMSC, inbox, phonebook)
 *             └─► cells from the RadioSite (shared by a bank), registration, CSQ
 */
import { makeIccid, makeIccidBatch, makeImei, makeImsi, makeMsisdn, makeSmsc, OPERATORS, type OperatorKey } from './identity.js';
import { makeVerificationMessages, storeMessages } from './inbox.js';
import { SimulatedModem, type SimulatedModemOptions } from './modem.js';
import { bestRat, cellsFor, csqFromCell, makeRadioSite, type RadioSite } from './network.js';
import { getProfile } from './profiles.js';
import { Rng } from './random.js';
import type { ModemState, PhonebookEntry, ProfileId, SimCard } from './types.js';

export interface SimSpec {
  operator?: OperatorKey;
  /** Full ICCID; default: a random batch. */
  iccid?: string;
  /** Own number for +CNUM; null: none stored (most pool SIMs); default: 30 % have one. */
  msisdn?: string | null;
  /** Verification-code messages in the inbox (default 6). */
  sms?: number;
  pinLocked?: boolean;
  /** Phonebook entries (default 0–4). */
  contacts?: number;
}

export interface ModemSpec {
  profile: ProfileId;
  seed: number;
  /** false: an empty slot. */
  sim?: SimSpec | false;
  remoteSim?: boolean;
  /** Shared by all modems of a bank; default: one drawn from the seed. */
  site?: RadioSite;
  imei?: string;
  /** Epoch ms of the first inbox message. */
  inboxStart?: number;
}

const NAMES = ['Zhang Wei', 'Wang Fang', 'Li Na', 'Liu Yang', 'Chen Jie', 'A Qiang', 'Lao Wang', 'Kuaidi', 'Fang Dong'];

function phonebook(rng: Rng, count: number): PhonebookEntry[] {
  const out: PhonebookEntry[] = [];
  for (let i = 0; i < count; i++) {
    const intl = rng.chance(0.5);
    out.push({ index: i + 1, number: `${intl ? '+86' : ''}1${rng.pick(['38', '39', '58', '86', '89'])}${rng.digits(8)}`, type: intl ? 145 : 129, name: rng.pick(NAMES) });
  }
  return out;
}

export function pickOperator(rng: Rng, profile: ProfileId): OperatorKey {
  const lte = getProfile(profile).rats.includes('LTE');
  const r = rng.next();
  return lte && r < 0.1 ? 'telecom' : r < 0.6 ? 'cmcc' : 'unicom';
}

export function createSimCard(spec: SimSpec, profile: ProfileId, rng: Rng, inboxStart?: number): SimCard {
  const p = getProfile(profile);
  const op = spec.operator ?? pickOperator(rng, profile);
  const smsc = makeSmsc(op, rng);
  const iccid = spec.iccid ?? makeIccid(op, makeIccidBatch(rng), rng.int(0, 999_999));
  const msisdn = spec.msisdn === null ? undefined : spec.msisdn ?? (rng.chance(0.3) ? makeMsisdn(op, rng) : undefined);
  const messages = makeVerificationMessages(rng.fork('inbox'), spec.sms ?? 6, inboxStart);
  const sms = storeMessages(messages, { smsc, indexBase: p.smsIndexBase, rng: rng.fork('store') });
  return {
    imsi: makeImsi(op, rng), iccid, ...(msisdn ? { msisdn } : {}), operator: { ...OPERATORS[op] }, smsc,
    pinLocked: spec.pinLocked ?? false, pin: '1234', sms: sms.slice(0, p.smsCapacity), smsCapacity: p.smsCapacity,
    phonebook: phonebook(rng.fork('phonebook'), spec.contacts ?? rng.int(0, 4)), phonebookCapacity: 250,
  };
}

export function createModemState(spec: ModemSpec): ModemState {
  const rng = new Rng(spec.seed);
  const profile = getProfile(spec.profile);
  const site = spec.site ?? makeRadioSite(rng.fork('site'));
  const imei = spec.imei ?? makeImei(rng.pick(profile.tacs), rng.fork('imei'));
  const sim = spec.sim === false ? undefined : createSimCard(spec.sim ?? {}, spec.profile, rng.fork('sim'), spec.inboxStart);
  const op = (Object.keys(OPERATORS) as OperatorKey[]).find((k) => OPERATORS[k].numeric === sim?.operator.numeric) ?? 'cmcc';
  const rat = bestRat(profile.rats, op);
  // A SIM the module cannot use (Telecom on a 2G module) leaves it searching on whatever it hears.
  const cells = cellsFor(site, rat ? op : 'cmcc', rat ?? bestRat(profile.rats, 'cmcc') ?? 'GSM', rng.fork('cells'));
  return {
    imei, ...(sim ? { sim } : {}), registration: !sim ? 0 : rat ? 1 : 2, csq: csqFromCell(cells.serving), cells,
    remoteSim: spec.remoteSim ?? false,
  };
}

/** One modem from a spec, with the modem options (latency, faults) alongside. */
export function createModem(spec: ModemSpec & Omit<SimulatedModemOptions, 'profile' | 'state' | 'seed'>): SimulatedModem {
  const { profile, seed, sim, remoteSim, site, imei, inboxStart, ...options } = spec;
  const state = createModemState({ profile, seed, ...(sim !== undefined ? { sim } : {}), ...(remoteSim !== undefined ? { remoteSim } : {}), ...(site ? { site } : {}), ...(imei ? { imei } : {}), ...(inboxStart !== undefined ? { inboxStart } : {}) });
  return new SimulatedModem({ profile, state, seed, ...options });
}
