import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** Where `command` is: itself when it has a slash, else the first executable of that name on PATH; null if none. */
export function resolveOnPath(command: string, path = process.env.PATH ?? ''): string | null {
  const candidates = command.includes('/')
    ? [command]
    : path
        .split(delimiter)
        .filter((d) => isAbsolute(d))
        .map((d) => join(d, command));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not there
    }
  }
  return null;
}
