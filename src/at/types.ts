/**
 * The AT layer's contracts (modelled on zwave-js: bytes → framing → typed responses → a
 * per-command state machine → one queue per port).
 *
 *   SerialBinding (bytes) ──► AtChannel: framing, echo, URCs, "> " prompt, final results
 *                              │  one queue per port, per-command timeout, resync, pacing
 *                              ├──► AtResponse for the command in flight
 *                              ├──► Urc events (RING, +CLIP, +CMTI, +CMT, +CREG, …)
 *                              └──► TranscriptEntry per line, both directions, timestamped
 *
 * Drivers (drivers/) and the bank (src/modems/) only ever see `AtRunner`.
 */

/** The one hardware seam: a byte duplex. A real serial port, a PTY, or anything a test wires in. */
export interface SerialBinding {
  /** Stable name of the port: a /dev/serial/by-path (or by-id) link when there is one. */
  readonly path: string;
  readonly isOpen: boolean;
  open(): Promise<void>;
  write(data: Buffer): Promise<void>;
  close(): Promise<void>;
  /** Bytes as they arrive (chunks split anywhere). */
  onData(listener: (chunk: Buffer) => void): void;
  /** The port went away: `error` set when it was not our close() (USB unplug: serialport's "disconnected"). */
  onClose(listener: (error?: Error) => void): void;
}

/** How a command ended. */
export type FinalResult =
  | 'OK' | 'ERROR' | 'CME ERROR' | 'CMS ERROR' | 'NO CARRIER' | 'BUSY' | 'NO ANSWER' | 'NO DIALTONE'
  | 'CONNECT' | 'PROMPT' | 'CUSTOM' | 'COMMAND NOT SUPPORT';

export interface AtCommandOptions {
  /** ms; defaults per command from the table in src/at (AT+COPS=? needs minutes). */
  timeoutMs?: number;
  /** A line that ends the command when the module never sends a final result (Wavecom `+CPIN: READY` with no OK). */
  customFinal?: RegExp;
  /** Lines that are this command's answer even though they look like URCs (e.g. `+CREG:` after AT+CREG?). Default: the command's own `+XXX:` prefix. */
  responsePrefix?: string;
}

export interface AtResponse {
  command: string;
  /** Information lines of the answer, echo and URCs removed, in order. */
  lines: string[];
  final: FinalResult;
  /** The final line as received (e.g. `+CME ERROR: 10`). */
  finalLine: string;
  /** Numeric or text error of +CME/+CMS ERROR. */
  errorCode?: number | string;
  /** Monotonic ms (performance.now) when sent and when the final result came. */
  sentAt: number;
  doneAt: number;
  /** Transcript line numbers (1-based, per port) of the command and of its answer. */
  transcriptLines: [number, number];
}

/** An unsolicited result code. */
export interface Urc {
  port: string;
  /** The `+XXX` prefix or the bare word (`RING`, `+CMTI`, `+CLIP`, `^RSSI`, `+SIMDATA`). */
  name: string;
  line: string;
  /** Second line for two-line URCs (`+CMT: ...` followed by the PDU). */
  data?: string;
  at: number;
  transcriptLine: number;
}

export interface TranscriptEntry {
  /** 1-based line number within the port's transcript. */
  n: number;
  /** Wall-clock ISO time (may be wrong: no RTC) and monotonic ms since the channel opened. */
  wall: string;
  mono: number;
  dir: 'tx' | 'rx' | 'note';
  /** The line, with control characters escaped (\r, \n, \x1a, other bytes as \xHH). */
  text: string;
}

/** What drivers and the bank use to talk to one module. */
export interface AtRunner {
  readonly port: string;
  send(command: string, opts?: AtCommandOptions): Promise<AtResponse>;
}
