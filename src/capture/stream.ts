/**
 * The interfaces between TCP reassembly and the protocol analyzers that read whole byte streams.
 *
 *   TcpReassembler ──open(conn)──► TcpStreamHandler ──► TcpStreamConsumer.data(fromClient, bytes, frame)
 *                                                        │  (replay wires a consumer that picks a StreamAnalyzer
 *                                                        │   by content from the first bytes seen)
 *                                                        ▼
 *                                          StreamAnalyzer.push(...) ──► AnalyzerResult (observations)
 *
 * Buffers handed to `data`/`push` are only valid during the call (the capture layer reuses them):
 * copy what you keep.
 */
import type { AnalyzerResult, Endpoint } from '../protocols/types.js';

export interface TcpConnectionInfo {
  /** The side that sent the SYN, or the first sender when the handshake was not captured. */
  client: Endpoint;
  server: Endpoint;
  /** Index of the capture file in this run's inputs. */
  fileIndex: number;
  firstFrame: number;
  /** Capture time of the first segment, ms since the epoch. */
  ts: number;
  /** True when the SYN was seen (so client/server are certain). */
  handshakeSeen: boolean;
}

export type TcpCloseReason = 'fin' | 'rst' | 'timeout' | 'evicted' | 'end';

export interface TcpStreamConsumer {
  /**
   * In-order payload bytes of one direction. Return `false` to say the connection is of no
   * interest: the reassembler then stops buffering it (and remembers that, bounded).
   */
  data(fromClient: boolean, data: Buffer, frame: number, ts: number): boolean | void;
  /** Bytes that were never captured (a hole the reassembler gave up waiting for). */
  gap?(fromClient: boolean, missingBytes: number, frame: number): void;
  close(reason: TcpCloseReason): void;
}

export interface TcpStreamHandler {
  /** A new connection. Return a consumer, or null to ignore it (nothing is buffered for it). */
  open(conn: TcpConnectionInfo): TcpStreamConsumer | null;
}

/** A protocol analyzer over one TCP connection's reassembled streams (SIP over TCP, SMTP, HTTP, AMI, DWG...). */
export interface StreamAnalyzer {
  readonly protocol: string;
  push(fromClient: boolean, data: Buffer, frame: number, ts: number): AnalyzerResult;
  /** End of the connection (or of the input): flush what is pending. */
  end(): AnalyzerResult;
}

export interface StreamAnalyzerFactory {
  readonly protocol: string;
  /**
   * Cheap check on the first bytes seen in either direction of a connection (no string
   * conversion of large buffers): does this analyzer want the connection?
   */
  detect(firstData: Buffer, fromClient: boolean, conn: TcpConnectionInfo): boolean;
  create(conn: TcpConnectionInfo): StreamAnalyzer;
}
