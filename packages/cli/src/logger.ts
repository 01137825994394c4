import pino, { type Logger } from 'pino';

/**
 * The CLI's root logger: pino JSON on stderr (pipe it to pino-pretty to
 * read), at MAYU_LOG_LEVEL or `warn`. Synchronous, so nothing is lost when
 * the CLI exits.
 */
export function createCliLogger(level = process.env.MAYU_LOG_LEVEL ?? 'warn'): Logger {
  return pino({ name: 'mayu', level }, pino.destination({ fd: 2, sync: true }));
}
