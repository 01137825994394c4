import { appendFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { FakePty } from './fake-pty.js';

/** Where a console's output goes. */
export interface ConsoleOut {
  write(text: string): void;
  close(): Promise<void>;
  /** Synchronous last resort before the process exits. */
  kill(): void;
}

export interface ConsoleSpec {
  mode: 'Off' | 'Null' | 'Tty' | 'Pty' | 'File' | 'Socket';
  file?: string;
  socket?: string;
}

const discard: ConsoleOut = { write: () => {}, close: async () => {}, kill: () => {} };

/**
 * A serial port in "Socket" mode: CH listens, one client at a time. Output
 * with no client is dropped before v53 and buffered since (a bounded buffer
 * here).
 */
class SocketConsole implements ConsoleOut {
  private client: Socket | null = null;
  private pending = '';

  constructor(
    private readonly server: Server,
    private readonly path: string,
    private readonly buffered: boolean,
  ) {
    server.on('connection', (s: Socket) => {
      s.on('error', () => {});
      this.client?.destroy();
      this.client = s;
      if (this.pending) s.write(this.pending);
      this.pending = '';
    });
  }

  write(text: string): void {
    if (this.client) this.client.write(text);
    else if (this.buffered) this.pending = (this.pending + text).slice(-65536);
  }

  async close(): Promise<void> {
    this.kill();
  }

  kill(): void {
    this.client?.destroy();
    this.server.close();
    rmSync(this.path, { force: true });
  }
}

/** Makes a console's output device at vm.create (CH pre-creates ptys and sockets then). Returns the pty path for "Pty". */
export async function openConsole(spec: ConsoleSpec, o: { bufferUntilClient: boolean }): Promise<{ out: ConsoleOut; pty?: string }> {
  switch (spec.mode) {
    case 'Off':
    case 'Null':
      return { out: discard };
    case 'Tty':
      return { out: { ...discard, write: (t) => void process.stdout.write(t) } };
    case 'File': {
      const file = spec.file as string;
      return { out: { ...discard, write: (t) => appendFileSync(file, t) } };
    }
    case 'Pty': {
      const pty = await FakePty.open();
      return { out: { write: (t) => pty.write(t), close: () => pty.close(), kill: () => pty.kill() }, pty: pty.path };
    }
    case 'Socket': {
      const path = spec.socket as string;
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      return { out: new SocketConsole(server, path, o.bufferUntilClient) };
    }
  }
}
