/** The subset of OCI runtime spec types the agent reads (validated by spec-schema.ts). */
export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user?: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
  args: string[];
  env?: string[];
  cwd: string;
  [key: string]: unknown;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts?: OciMount[];
  annotations?: Record<string, string>;
  linux?: {
    /** From the host: types only. The agent adds guest paths for shared namespaces. */
    namespaces?: { type: string; path?: string }[];
    cgroupsPath?: string;
    resources?: Record<string, unknown>;
    [key: string]: unknown;
  };
}
