import { closeSync, constants, openSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { AGENT_VERSION } from '../version.js';

/**
 * The agent's root logger: pino JSON lines on the log device (the first
 * virtio console, read by the host and re-logged under a `guest` key), or on
 * stderr (the serial console) when there is no such device. Writes are
 * synchronous: a virtio console never blocks, and a crash loses nothing.
 */
export function createAgentLogger(level: string, device: string): { log: Logger; close: () => void } {
  let fd = 2;
  let warning: string | null = null;
  try {
    fd = openSync(device, constants.O_WRONLY | constants.O_NOCTTY);
  } catch (err) {
    warning = `log device ${device} unavailable (${(err as Error).message}); logging to stderr`;
  }
  const log = pino({ name: 'mayu-agent', level, base: { pid: process.pid, version: AGENT_VERSION } }, pino.destination({ fd, sync: true }));
  if (warning) log.warn(warning);
  return { log, close: () => fd !== 2 && closeSync(fd) };
}
