import { closeSync, constants, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { ReadStream } from 'node:tty';
import { MayuError } from '@mayu/protocol';

/**
 * Opens the pty CH made for a console (mode "Pty"; its path is in vm.info)
 * and reads it raw: no echo back into the guest, no line editing. Only a
 * /dev/pts/N path is opened: the path comes from the VMM, and the runtime
 * opens nothing else on its word.
 */
export function openPty(path: string): ReadStream {
  if (!/^\/dev\/pts\/\d+$/.test(path)) {
    throw new MayuError('ERR_HYPERVISOR', `Cloud Hypervisor reported ${JSON.stringify(path)} as the console's pty: not a /dev/pts/N path`, { details: { path } });
  }
  const fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY);
  let stream: ReadStream;
  try {
    stream = new ReadStream(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  try {
    stream.setRawMode(true);
  } catch (err) {
    stream.destroy();
    throw err;
  }
  return stream;
}

/** Connects to a Unix socket the VMM listens on. */
export function connectSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
