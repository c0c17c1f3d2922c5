/**
 * The simulated modem bank (our mock controller, STYLE.md): import from here.
 *
 *   SimulatedBank ── PtyLink (socat) ── SimulatedModem (profiles, faults, inbox)
 *                                   └── TranscriptModem (replay of a dump)
 */
export { SimulatedBank, startReplayBank, byPathName, type BankStartOptions, type ReplayBankOptions } from './bank.js';
export { SimulatedModem, type SimulatedModemOptions } from './modem.js';
export { createModem, createModemState, createSimCard, type ModemSpec, type SimSpec } from './factory.js';
export { FaultState, FAULT_NAMES, type FaultInput, type FaultName, type FaultSwitches } from './faults.js';
export { PROFILES, getProfile, defaultSettings, type VendorProfile, type CellDialect } from './profiles.js';
export { PtyLink, SimulatorError, type ByteDevice, type PtyLinkOptions } from './pty.js';
export { TranscriptModem, loadDumpTranscripts, type RecordedPort } from './replay.js';
export { makeVerificationMessages, storeMessages, splitForSms, TEMPLATES, type InboxMessage, type SmsTime } from './inbox.js';
export { luhnDigit, luhnValid, makeIccid, makeImei, swapIccidNibbles, OPERATORS, type OperatorKey } from './identity.js';
export { Rng } from './random.js';
export * from './types.js';
