/**
 * The serialport stream on a binding that notices a hang-up.
 *
 *   createSerialPort() ── SerialPortStream ── hangupAwareBinding ── LinuxBinding (bindings-cpp 13)
 *                                              read(): read(2) ─► n > 0  ─► bytes
 *                                                      │        ─► EAGAIN ─► wait for the poller ─► again
 *                                                      └──────► 0        ─► SerialHangupError ─► the stream
 *                                                                            closes with a DisconnectedError
 *
 * Why not the stock binding: its unix read treats a read of 0 bytes as "nothing yet" and reads
 * again at once (bindings-cpp unix-read.ts; its issue #162 is open, the fix in PR #164 was not
 * merged). The port is opened with VMIN 1, so read(2) never returns 0 while the line is up: 0 is
 * end of file. Linux gives exactly that once a tty has been hung up: a USB modem unplugged
 * (usb-serial hangs up its tty) or a PTY whose master side (socat) died. The first read after the
 * hang-up may still fail with EIO, which the stock binding handles; when the hang-up wins the race,
 * the stock binding spins on empty reads for ever, the port never reports the unplug, and the
 * promise chain grows until the process runs out of memory. Seen here as a simulated unplug that
 * hung one test run in ~40 (test/integration/serial-hangup.test.ts makes it happen every time).
 *
 * Every other method is the stock binding's own. On Windows the stock binding is used unchanged
 * (its reads are overlapped I/O, not read(2)).
 */
import { read as fsRead } from 'node:fs';
import { promisify } from 'node:util';
import {
  autoDetect,
  BindingsError,
  type BindingInterface,
  type BindingPortInterface,
  type DarwinPortBinding,
  type LinuxPortBinding,
  type OpenOptions,
} from '@serialport/bindings-cpp';
import { SerialPortStream } from '@serialport/stream';

const readAsync = promisify(fsRead);

type UnixPortBinding = LinuxPortBinding | DarwinPortBinding;

/** read(2) returned end of file: the tty was hung up (unplugged, or the PTY's other side closed). */
export class SerialHangupError extends Error {
  /** Not a close we asked for: serialport turns it into a DisconnectedError. */
  readonly canceled = false;
  readonly code = 'EOF';

  constructor(readonly path: string) {
    super(`${path}: the device hung up (read returned end of file)`);
    this.name = 'SerialHangupError';
  }
}

function retryable(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR';
}

/** Resolves when the fd is readable (or hung up: epoll reports that as readable too). */
function readable(port: UnixPortBinding): Promise<void> {
  return new Promise((resolve, reject) => {
    port.poller.once('readable', (err?: Error | null) => (err ? reject(err) : resolve()));
  });
}

/** The stock unix read loop with one change: 0 bytes is end of file, not "try again". */
function hangupAwareRead(port: UnixPortBinding): UnixPortBinding['read'] {
  return async (buffer, offset, length) => {
    for (;;) {
      const fd = port.fd;
      // serialport expects a read cut short by our own close() to fail with canceled = true.
      if (fd === null) throw new BindingsError('Port is not open', { canceled: true });
      let bytesRead: number;
      try {
        ({ bytesRead } = await readAsync(fd, buffer, offset, length, null));
      } catch (e) {
        if (!retryable(e)) throw e;
        if (port.fd === null) throw new BindingsError('Port is not open', { canceled: true });
        await readable(port);
        continue;
      }
      if (bytesRead === 0) throw new SerialHangupError(port.openOptions.path);
      return { buffer, bytesRead };
    }
  };
}

const stock = autoDetect();

/** The platform's binding, with hangupAwareRead on Linux and macOS. */
export const hangupAwareBinding: BindingInterface = {
  list: () => stock.list(),
  async open(options: OpenOptions): Promise<BindingPortInterface> {
    const port: BindingPortInterface = await (stock as BindingInterface).open(options);
    if (process.platform === 'win32') return port;
    const unix = port as UnixPortBinding;
    unix.read = hangupAwareRead(unix);
    return unix;
  },
};

export interface SerialPortOptions {
  path: string;
  /** bit/s. */
  baudRate: number;
  /** Exclusive open (TIOCEXCL); default true. */
  lock?: boolean;
}

/** A serialport stream (same API as `new SerialPort`), not opened yet: call open(). */
export function createSerialPort(opts: SerialPortOptions): SerialPortStream {
  return new SerialPortStream({ binding: hangupAwareBinding, autoOpen: false, lock: opts.lock ?? true, path: opts.path, baudRate: opts.baudRate });
}
