/**
 * Live capture on an interface through libpcap (the `pcap` package's binding), for `goipwatch run`.
 *
 *   open_live(iface, BPF filter, buffer, snaplen) ──► poll (libuv) ──► dispatch ──► onFrame(frame)
 *   stats() ──► packets received / dropped by the kernel / dropped by the interface (heartbeat)
 *
 * Needs CAP_NET_RAW (the systemd unit grants it as an ambient capability; no root). Frames are
 * numbered from 1 per source, like a capture file, and the same pipeline reads them.
 */
import { pcapBinding, SNAP_BUFFER, type Frame } from './file-source.js';
import { ErrorCodes, GoipwatchError, describeError } from '../errors.js';

interface LiveSessionHandle {
  open_live(
    device: string, filter: string, bufferSize: number, snapLength: number, outfile: string,
    onPacket: () => void, monitor: boolean, timeout: number, onWarning: (w: string) => void, promiscuous: boolean,
  ): string;
  dispatch(buffer: Buffer, header: Buffer): number;
  start_polling(): void;
  close(): void;
  stats(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
  read_callback?: () => void;
}

export interface LiveCaptureOptions {
  iface: string;
  /** BPF filter (pcap-filter(7)); empty: everything. */
  filter?: string;
  /** Kernel buffer in bytes (libpcap's default is 2 MiB; a busy gateway LAN wants more). */
  bufferBytes?: number;
  snaplen?: number;
  promiscuous?: boolean;
}

export interface CaptureStats {
  iface: string;
  frames: number;
  /** Kernel counters since open (pcap_stats). */
  received: number;
  droppedByKernel: number;
  droppedByInterface: number;
}

const DLT_BY_NAME: Record<string, number> = { LINKTYPE_ETHERNET: 1, LINKTYPE_RAW: 12, LINKTYPE_LINUX_SLL: 113, LINKTYPE_NULL: 0 };

export class LiveCapture {
  private session: LiveSessionHandle | undefined;
  private frames = 0;

  constructor(private readonly opts: LiveCaptureOptions) {}

  /** Start capturing; each frame goes to onFrame (valid during the call only). */
  start(onFrame: (f: Frame) => void): void {
    const Session = pcapBinding().PcapSession as unknown as new () => LiveSessionHandle;
    const session = new Session();
    const data = Buffer.alloc(SNAP_BUFFER);
    const header = Buffer.alloc(16);
    const words = new Uint32Array(header.buffer, header.byteOffset, 4);
    const frame: Frame = { number: 0, dlt: -1, data, caplen: 0, origLen: 0, ts: 0 };
    let reported: string;
    try {
      reported = session.open_live(this.opts.iface, this.opts.filter ?? '', this.opts.bufferBytes ?? 8 * 1024 * 1024,
        this.opts.snaplen ?? 65_535, '', () => {
          this.frames++;
          frame.number = this.frames;
          frame.caplen = Math.min(words[2]!, SNAP_BUFFER);
          frame.origLen = words[3]!;
          frame.ts = words[0]! * 1000 + words[1]! / 1000;
          onFrame(frame);
        }, false, 100, () => {}, this.opts.promiscuous ?? true);
    } catch (e) {
      throw new GoipwatchError(ErrorCodes.Config, `cannot capture on ${this.opts.iface}: ${describeError(e)} (needs CAP_NET_RAW: run under the goipwatch systemd unit, or see goipwatch doctor)`, { iface: this.opts.iface });
    }
    frame.dlt = DLT_BY_NAME[reported] ?? Number(/(\d+)/.exec(reported)?.[1] ?? -1);
    session.read_callback = () => {
      session.dispatch(data, header);
    };
    session.start_polling();
    this.session = session;
  }

  stats(): CaptureStats {
    const s = this.session?.stats();
    return { iface: this.opts.iface, frames: this.frames, received: s?.ps_recv ?? 0, droppedByKernel: s?.ps_drop ?? 0, droppedByInterface: s?.ps_ifdrop ?? 0 };
  }

  /**
   * Stop delivering frames. The binding's close() only calls pcap_breakloop(): the poll handle and
   * the pcap handle are released by the next dispatch after a packet arrives (pcap_session.cc
   * FinalizeClose), and a dispatch without a packet returns 0 and releases nothing. On a quiet
   * interface, or behind a filter, the handle therefore stays open and keeps the event loop alive;
   * `goipwatch run` exits explicitly once it has stopped (src/cli/run.ts).
   */
  stop(): void {
    this.session?.close();
    this.session = undefined;
  }
}
