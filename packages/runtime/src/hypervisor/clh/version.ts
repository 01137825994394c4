import { execFileSync } from 'node:child_process';

/** The Cloud Hypervisor releases whose API mayu was written against (the fact sheet covers v41…v53). */
export const CLH_KNOWN_VERSIONS = { oldest: 41, newest: 53 } as const;

export interface ClhVersion {
  major: number;
  minor: number;
  /** As CH printed it, e.g. "v41.0.0" or "v53.0". */
  text: string;
}

/** Reads a version from `cloud-hypervisor --version` ("cloud-hypervisor v41.0.0") or vmm.ping ("v53.0"). */
export function parseClhVersion(out: string): ClhVersion | null {
  const m = /\bv?(\d+)\.(\d+)(?:\.\d+)?(?:-[\w.-]+)?/.exec(out);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), text: m[0] };
}

/** The version of the binary at `path` (a name on PATH or a path), or null when it cannot be run. */
export function clhVersion(path: string): ClhVersion | null {
  try {
    const out = execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    return parseClhVersion(out);
  } catch {
    return null;
  }
}

/** Why a version is not one mayu supports, or null when it is (newer ones are allowed: CH's API only adds). */
export function unsupportedVersion(v: ClhVersion): string | null {
  return v.major < CLH_KNOWN_VERSIONS.oldest ? `Cloud Hypervisor ${v.text} is older than v${CLH_KNOWN_VERSIONS.oldest}, the oldest mayu supports` : null;
}
