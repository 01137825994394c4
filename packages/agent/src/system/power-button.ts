import { constants, openSync, readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { socketFromFd } from '@mayu/vsock';
import type { Logger } from 'pino';

const INPUT_EVENT_SIZE = 24; // struct input_event on 64-bit: timeval(16) + type(2) + code(2) + value(4)
const EV_KEY = 1;
const KEY_POWER = 116;

/** Finds the evdev node of the ACPI power button, if the guest has one. */
export function findPowerButton(sysInput = '/sys/class/input'): string | null {
  let entries: string[];
  try {
    entries = readdirSync(sysInput);
  } catch {
    return null;
  }
  for (const entry of entries.filter((e) => e.startsWith('event'))) {
    try {
      const name = readFileSync(`${sysInput}/${entry}/device/name`, 'utf8').trim();
      if (name === 'Power Button') return `/dev/input/${entry}`;
    } catch {
      // not every input device has a name
    }
  }
  return null;
}

/** True when `chunk` holds a KEY_POWER press. */
export function hasPowerPress(chunk: Buffer): boolean {
  for (let off = 0; off + INPUT_EVENT_SIZE <= chunk.length; off += INPUT_EVENT_SIZE) {
    const type = chunk.readUInt16LE(off + 16);
    const code = chunk.readUInt16LE(off + 18);
    const value = chunk.readInt32LE(off + 20);
    if (type === EV_KEY && code === KEY_POWER && value === 1) return true;
  }
  return false;
}

/**
 * Calls `onPress` when the host presses the power button (QMP
 * system_powerdown). Returns a function that stops watching.
 */
export function watchPowerButton(log: Logger, onPress: () => void): () => void {
  const device = findPowerButton();
  if (!device) {
    log.info('no ACPI power button: graceful power-off is by RPC only');
    return () => {};
  }
  let socket: Socket;
  try {
    socket = socketFromFd(openSync(device, constants.O_RDONLY | constants.O_NONBLOCK));
  } catch (err) {
    log.warn({ err, device }, 'cannot watch the power button');
    return () => {};
  }
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    const whole = pending.length - (pending.length % INPUT_EVENT_SIZE);
    const events = pending.subarray(0, whole);
    pending = pending.subarray(whole);
    if (hasPowerPress(events)) onPress();
  });
  socket.on('error', (err) => log.warn({ err, device }, 'power button watch failed'));
  log.debug({ device }, 'watching the power button');
  return () => socket.destroy();
}
