/**
 * A hang-up noticed late: the tty was already hung up when the port next reads, so read(2)
 * returns 0 (end of file) rather than EIO. The stock serialport binding reads again at once, for
 * ever (bindings-cpp issue #162), and never reports the unplug; src/at/serial-port.ts turns the
 * 0 into a disconnect. Real parts: a socat PTY pair, killed (test/helpers/pty.ts), and the real
 * serialport stream and binding.
 *
 * The race is made certain here by not reading while socat dies: a port with no 'data' listener
 * issues no read, so its first read comes after the hang-up. In the field this is a USB modem
 * unplugged while the process was busy elsewhere (usb-serial hangs up the tty the same way).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSerialPort, SerialHangupError } from '../../src/at/serial-port.js';
import { startPtyPair } from '../helpers/pty.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Long enough for the kernel to finish hanging up the slave after socat's exit. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));

describe('a tty hung up before the port reads again', () => {
  it('closes the port as disconnected instead of reading nothing for ever', async () => {
    const pty = await startPtyPair();
    cleanups.push(() => pty.stop());
    const port = createSerialPort({ path: pty.a, baudRate: 115_200 });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    let closedEarly = false;
    const closed = new Promise<(Error & { disconnected?: boolean }) | null>((resolve) =>
      port.once('close', (e?: Error) => {
        closedEarly = true;
        resolve(e ?? null);
      }),
    );
    port.on('error', () => undefined);

    await pty.stop();
    await settle();
    // No read was in flight, so nothing has noticed the hang-up yet: the next read is the test.
    expect(closedEarly).toBe(false);
    port.on('data', () => undefined);

    const err = await withTimeout(closed, 5000, 'the port did not report the hang-up');
    expect(err?.disconnected).toBe(true);
    expect(err?.message).toBe(new SerialHangupError(pty.a).message);
  });

});
