import type { WriteStream } from 'node:tty';
import type { AgentClient } from '@mayu/runtime';
import type { ProcessRef } from '@mayu/protocol';
import { constants } from 'node:os';

/** Forwards the signals a user sends this process (Ctrl-C, kill) to the container process. Returns the undo. */
export function forwardSignals(agent: AgentClient, ref: ProcessRef, signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']): () => void {
  const handlers = signals.map((sig) => {
    const handler = (): void => void agent.signalProcess(ref, constants.signals[sig]).catch(() => {});
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  return () => handlers.forEach(([sig, h]) => process.off(sig, h));
}

/** A container terminal's size when ours is not a terminal. */
export const DEFAULT_TTY = { rows: 24, columns: 80 };

/** The size a new container terminal starts with: ours, or the default. */
export function terminalSize(out: NodeJS.WriteStream = process.stdout): { height: number; width: number } {
  return out.isTTY ? { height: out.rows, width: out.columns } : { height: DEFAULT_TTY.rows, width: DEFAULT_TTY.columns };
}

/** Keeps the container's terminal the size of ours. Returns the undo. */
export function forwardResize(agent: AgentClient, ref: ProcessRef, tty: WriteStream): () => void {
  const resize = (): void => void agent.resizeTty(ref, tty.rows, tty.columns).catch(() => {});
  tty.on('resize', resize);
  resize();
  return () => tty.off('resize', resize);
}

/** Parses a signal given as a name (KILL, SIGKILL) or a number. */
export function parseSignal(text: string): number | null {
  if (/^\d+$/.test(text)) return Number(text) > 0 && Number(text) <= 64 ? Number(text) : null;
  const name = (text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`) as NodeJS.Signals;
  return constants.signals[name] ?? null;
}
