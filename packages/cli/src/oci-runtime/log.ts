import { openSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type LogFormat = 'text' | 'json';

export interface LogOptions {
  /** --log FILE (appended to); without it, stderr. */
  file?: string;
  format: LogFormat;
  debug: boolean;
}

/** A pino JSON line as runc's text format: time="…" level=… msg="…" key=value. */
export function textLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const quote = (v: unknown): string => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return /^[\w./:@+-]+$/.test(s) ? s : JSON.stringify(s);
  };
  const { time, level, msg, ...rest } = o;
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${quote(v)}`);
  return [`time=${quote(time)}`, `level=${String(level)}`, `msg=${quote(msg ?? '')}`, ...fields].join(' ');
}

/**
 * mayu-runtime's logger, in runc's shapes: with --log-format json, lines of
 * {"level":"error","msg":"…","time":"…"} (what containerd's runc shim and
 * conmon read back for an error); with text, runc's logfmt. Synchronous:
 * the commands are short-lived.
 */
export function createRuntimeLogger(o: LogOptions): Logger {
  const fd = o.file ? openSync(o.file, 'a', 0o600) : 2;
  const dest = pino.destination({ fd, sync: true });
  const stream =
    o.format === 'json'
      ? dest
      : new Writable({
          write(chunk: Buffer, _enc, done) {
            const lines = chunk.toString().split('\n').filter(Boolean);
            dest.write(lines.map((l) => `${textLine(l)}\n`).join(''));
            done();
          },
        });
  return pino(
    {
      level: o.debug ? 'debug' : 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}
