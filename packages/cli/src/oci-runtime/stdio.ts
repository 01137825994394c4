import { closeSync, constants, createWriteStream, openSync } from 'node:fs';
import tty from 'node:tty';
import type { ProcessRef } from '@mayu/protocol';
import { pumpInput, pumpOutput, writableSink, type AgentClient } from '@mayu/runtime';
import { makeControllingTerminal, openPty, sendFd, setWindowSize, windowSize } from '@mayu/vsock';
import type { Logger } from 'pino';

/** The terminal size when neither the spec nor the engine gave one. */
const DEFAULT_SIZE = { rows: 24, columns: 80 };

/**
 * A container process's stdio on the host, as runc leaves it: without a
 * terminal, the stdio of the process that stands for it (the engine's pipes
 * or files, inherited from create); with one, a pty whose master went to the
 * engine's --console-socket and whose slave this process relays, resizes
 * included.
 */
export class ProcessStdio {
  private readonly output: Promise<void>[];
  private readonly undo: (() => void)[] = [];
  private readonly input: NodeJS.ReadableStream;

  private constructor(
    private readonly agent: AgentClient,
    private readonly ref: ProcessRef,
    private readonly log: Logger,
    terminal: { slave: number; path: string } | null,
  ) {
    if (!terminal) {
      // The engine may close its end first (EPIPE): the output is dropped then, as runc's would be.
      for (const stream of [process.stdin, process.stdout, process.stderr]) stream.on('error', (err) => log.debug({ err }, 'stdio closed'));
      this.input = process.stdin;
      this.output = [pumpOutput(agent, ref, 'stdout', [writableSink(process.stdout)]), pumpOutput(agent, ref, 'stderr', [writableSink(process.stderr)])];
      return;
    }
    const slave = terminal.slave;
    // Two handles on one fd would close it twice: the writer opens the slave again. Not a
    // tty.WriteStream: that writes blocking, and an engine that stops reading would freeze us.
    const out = createWriteStream('', { fd: openSync(terminal.path, constants.O_RDWR | constants.O_NOCTTY) });
    const input = new tty.ReadStream(slave);
    // The engine closing its master is EIO here: the input ends, nothing more.
    input.on('error', (err) => log.debug({ err }, 'the terminal closed'));
    out.on('error', (err) => log.debug({ err }, 'the terminal closed'));
    this.input = input;
    this.output = [pumpOutput(agent, ref, 'stdout', [writableSink(out)])];
    const resize = (): void => void this.resize(slave);
    process.on('SIGWINCH', resize);
    this.undo.push(() => {
      process.off('SIGWINCH', resize);
      input.destroy();
      out.destroy();
    });
  }

  /**
   * Sets up the process's stdio. With `consoleSocket`, a pty is made, its
   * master sent there (and closed here), its slave kept: our controlling
   * terminal when `controlling` (a holder leads its session), so the
   * engine's resizes reach us as SIGWINCH.
   */
  static async open(o: { agent: AgentClient; ref: ProcessRef; log: Logger; consoleSocket?: string; consoleSize?: { height?: number; width?: number }; controlling: boolean }): Promise<ProcessStdio> {
    if (!o.consoleSocket) return new ProcessStdio(o.agent, o.ref, o.log, null);
    const pty = openPty();
    try {
      if (o.consoleSize?.height && o.consoleSize.width) setWindowSize(pty.slave, o.consoleSize.height, o.consoleSize.width);
      sendFd(o.consoleSocket, pty.master, pty.path);
    } catch (err) {
      closeSync(pty.slave);
      throw err;
    } finally {
      closeSync(pty.master);
    }
    if (o.controlling) makeControllingTerminal(pty.slave);
    const stdio = new ProcessStdio(o.agent, o.ref, o.log, pty);
    await stdio.resize(pty.slave);
    return stdio;
  }

  private async resize(slave: number): Promise<void> {
    let size = windowSize(slave);
    if (size.rows === 0 || size.columns === 0) size = DEFAULT_SIZE;
    await this.agent.resizeTty(this.ref, size.rows, size.columns).catch((err: unknown) => this.log.debug({ err }, 'resize'));
  }

  /** Starts passing input on (once the process runs); its end is the process's EOF. */
  startInput(): void {
    void pumpInput(this.agent, this.ref, this.input as NodeJS.ReadStream).catch((err: unknown) => this.log.debug({ err }, 'stdin ended'));
  }

  /** Resolves when the process's output has all been passed on. */
  drained(): Promise<void> {
    return Promise.all(this.output).then(() => {});
  }

  close(): void {
    for (const u of this.undo.reverse()) u();
  }
}
