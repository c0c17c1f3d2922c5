/**
 * One error class with stable codes (after zwave-js): the code is printed in the message so a
 * pasted log line can be searched for, and docs/ARCHITECTURE.md lists what each code means.
 */
export const ErrorCodes = {
  /** A command-line argument or option is wrong. Exit 2. */
  Usage: 'GW_USAGE',
  /** A configuration value is wrong. Exit 2. */
  Config: 'GW_CONFIG',
  /** An input file cannot be opened or is not a capture. */
  InputUnreadable: 'GW_INPUT_UNREADABLE',
  /** An input file was read only in part (truncated, corrupt record, absurd caplen). */
  InputPartial: 'GW_INPUT_PARTIAL',
  /** The link type of a capture is not one we decode. */
  LinkTypeUnsupported: 'GW_LINKTYPE_UNSUPPORTED',
  /** The SQLite store could not be opened or written. */
  Store: 'GW_STORE',
  /** A signature table is malformed. */
  Signatures: 'GW_SIGNATURES',
  /** An AT command got no final result within its timeout (src/at/timeouts.ts). */
  AtTimeout: 'GW_AT_TIMEOUT',
  /** The serial port closed (unplug or close()) while a command was queued or in flight. */
  AtClosed: 'GW_AT_CLOSED',
  /** A module answered ERROR / +CME ERROR / +CMS ERROR where success was required (assertOk). */
  AtError: 'GW_AT_ERROR',
  /** A command was refused before sending (not an AT line, control characters, or by policy). */
  AtRefused: 'GW_AT_REFUSED',
  /** After a timeout or an aborted prompt the channel could not resynchronise with the module. */
  AtResync: 'GW_AT_RESYNC',
  /** A serial port could not be opened or written (permissions, busy, gone). */
  AtIo: 'GW_AT_IO',
  /** A line of an AT transcript dump is malformed. */
  AtTranscript: 'GW_AT_TRANSCRIPT',
  /** Reports could not be delivered to the MQTT broker in time (they stay in the outbox). Exit 1. */
  Report: 'GW_REPORT',
  /** The simulated modem bank could not start (bad options, a dump without transcripts, socat missing). */
  Simulator: 'GW_SIMULATOR',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class GoipwatchError extends Error {
  readonly code: ErrorCode;
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(`${message} [${code}]`, options);
    this.name = 'GoipwatchError';
    this.code = code;
    this.context = context;
  }
}

/** Exit codes, documented in the README and `--help`. */
export const ExitCodes = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  PartialInput: 3,
} as const;

export function isGoipwatchError(e: unknown): e is GoipwatchError {
  return e instanceof GoipwatchError;
}

/** Message of an unknown thrown value, for logs and user messages. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
