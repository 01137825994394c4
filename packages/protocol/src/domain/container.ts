import { invalidArgument } from '../errors/mayu-error.js';
import * as wire from '../gen/mayu/agent/v1/agent.js';

/** How a storage is mounted in the guest. */
export const STORAGE_DRIVERS = ['9p', 'virtio-fs', 'blk', 'overlay', 'local', 'bind'] as const;
export type StorageDriver = (typeof STORAGE_DRIVERS)[number];

/**
 * Something the agent mounts before a sandbox or container starts.
 * - 9p, virtio-fs: `source` is the share's tag;
 * - blk: `source` is the disk's serial (the host sets it per disk);
 * - overlay: `options` hold lowerdir=, upperdir=, workdir= (guest paths);
 * - local: an empty tmpfs; bind: a guest directory bound elsewhere.
 */
export interface StorageSpec {
  driver: StorageDriver;
  source: string;
  fstype: string;
  options: string[];
  mountPoint: string;
}

export interface StdioSpec {
  terminal: boolean;
  stdin: boolean;
}

export interface CreateSandboxOptions {
  sandboxId: string;
  hostname: string;
  dns: string[];
  storages: StorageSpec[];
  sandboxPidns: boolean;
  annotations: Record<string, string>;
}

export interface CreateContainerOptions {
  containerId: string;
  /** The OCI runtime spec (config.json), parsed. */
  spec: unknown;
  storages: StorageSpec[];
  stdio: StdioSpec;
  /** Join these namespaces of another container of the sandbox (a pod's sandbox container). */
  shareNamespaces?: NamespaceShare;
}

/** Namespace types a container may share with another container of its sandbox. */
export const SHAREABLE_NAMESPACES = ['ipc', 'uts', 'pid'] as const;
export type ShareableNamespace = (typeof SHAREABLE_NAMESPACES)[number];

export interface NamespaceShare {
  /** The container whose namespaces are joined; '' — the pod's own (IPC and UTS), for a pod without a sandbox container. */
  containerId: string;
  types: ShareableNamespace[];
}

export interface ExecProcessOptions {
  containerId: string;
  execId: string;
  /** The OCI process object, parsed. */
  process: unknown;
  stdio: StdioSpec;
}

/** A process of a container: its init (execId "") or an exec. */
export interface ProcessRef {
  containerId: string;
  execId: string;
}

function parseJson(field: string, bytes: Uint8Array): unknown {
  const text = Buffer.from(bytes).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalidArgument(field, text.slice(0, 80), `is not valid JSON (${(err as Error).message})`);
  }
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

export function storageToWire(s: StorageSpec): wire.Storage {
  return { driver: s.driver, driverOptions: [], source: s.source, fstype: s.fstype, options: [...s.options], mountPoint: s.mountPoint };
}

export function storageFromWire(w: wire.Storage, field = 'storages'): StorageSpec {
  if (!(STORAGE_DRIVERS as readonly string[]).includes(w.driver)) {
    throw invalidArgument(`${field}.driver`, w.driver, `must be one of ${STORAGE_DRIVERS.join(', ')}`);
  }
  if (!w.mountPoint.startsWith('/')) throw invalidArgument(`${field}.mount_point`, w.mountPoint, 'must be an absolute guest path');
  return { driver: w.driver as StorageDriver, source: w.source, fstype: w.fstype, options: [...w.options], mountPoint: w.mountPoint };
}

const stdioFromWire = (w: wire.StdioConfig | undefined): StdioSpec => ({ terminal: w?.terminal ?? false, stdin: w?.stdin ?? false });

export function createSandboxToWire(o: CreateSandboxOptions): wire.CreateSandboxRequest {
  return { ...o, dns: [...o.dns], storages: o.storages.map(storageToWire), annotations: { ...o.annotations } };
}

export function createSandboxFromWire(w: wire.CreateSandboxRequest): CreateSandboxOptions {
  return {
    sandboxId: w.sandboxId,
    hostname: w.hostname,
    dns: [...w.dns],
    storages: w.storages.map((s, i) => storageFromWire(s, `storages[${i}]`)),
    sandboxPidns: w.sandboxPidns,
    annotations: { ...w.annotations },
  };
}

export function createContainerToWire(o: CreateContainerOptions): wire.CreateContainerRequest {
  return {
    containerId: o.containerId,
    execId: '',
    ociSpecJson: json(o.spec),
    storages: o.storages.map(storageToWire),
    devices: [],
    stdio: { ...o.stdio },
    shareNamespaces: o.shareNamespaces ? { containerId: o.shareNamespaces.containerId, types: [...o.shareNamespaces.types] } : undefined,
  };
}

function namespaceShareFromWire(w: wire.NamespaceShare | undefined): NamespaceShare | undefined {
  if (!w || (!w.containerId && w.types.length === 0)) return undefined;
  const types = w.types.map((t, i) => {
    if (!(SHAREABLE_NAMESPACES as readonly string[]).includes(t)) {
      throw invalidArgument(`share_namespaces.types[${i}]`, t, `must be one of ${SHAREABLE_NAMESPACES.join(', ')}`);
    }
    return t as ShareableNamespace;
  });
  return { containerId: w.containerId, types };
}

export function createContainerFromWire(w: wire.CreateContainerRequest): CreateContainerOptions {
  return {
    containerId: w.containerId,
    spec: parseJson('oci_spec_json', w.ociSpecJson),
    storages: w.storages.map((s, i) => storageFromWire(s, `storages[${i}]`)),
    stdio: stdioFromWire(w.stdio),
    shareNamespaces: namespaceShareFromWire(w.shareNamespaces),
  };
}

export function execProcessToWire(o: ExecProcessOptions): wire.ExecProcessRequest {
  return { containerId: o.containerId, execId: o.execId, processJson: json(o.process), stdio: { ...o.stdio } };
}

export function execProcessFromWire(w: wire.ExecProcessRequest): ExecProcessOptions {
  return { containerId: w.containerId, execId: w.execId, process: parseJson('process_json', w.processJson), stdio: stdioFromWire(w.stdio) };
}
