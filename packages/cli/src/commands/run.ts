import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ERROR_CODES, invalidArgument, MayuError, type ErrorCode } from '@mayu/protocol';
import { defaultSpec, parseRunNetwork, resolveImage, resolveRunNetwork } from '@mayu/runtime';
import type { Logger } from 'pino';
import { UsageError } from '../usage.js';
import { configFrom } from './common.js';
import { attachRun } from '../run/attached-run.js';
import { terminalSize } from '../run/attach.js';
import type { RunRequest } from '../run/container-session.js';
import { reapOrphanedRuns } from '../run/reaper.js';
import { createRun, removeRun, type RunRecord } from '../run/run-records.js';

const VOLUME_PROPAGATION = ['rprivate', 'rslave', 'rshared'] as const;
type VolumePropagation = (typeof VOLUME_PROPAGATION)[number];

/** -v SRC:DST[:OPTS]: SRC and DST absolute; OPTS a comma list of ro|rw and rprivate|rslave|rshared (as Docker's). */
export function parseVolume(text: string): { source: string; destination: string; readOnly: boolean; propagation?: VolumePropagation } {
  const parts = text.split(':');
  const [source, destination, opts] = parts;
  const options = opts === undefined ? [] : opts.split(',');
  const known = (o: string): boolean => o === 'ro' || o === 'rw' || (VOLUME_PROPAGATION as readonly string[]).includes(o);
  if (parts.length < 2 || parts.length > 3 || !source || !destination || !options.every(known)) {
    throw invalidArgument('--volume', text, 'must be SRC:DST[:OPTS], OPTS a comma list of ro|rw and rprivate|rslave|rshared');
  }
  if (!isAbsolute(destination)) throw invalidArgument('--volume', text, 'DST must be an absolute path');
  const propagation = options.filter((o): o is VolumePropagation => (VOLUME_PROPAGATION as readonly string[]).includes(o)).at(-1);
  return { source: resolve(source), destination, readOnly: options.includes('ro'), ...(propagation ? { propagation } : {}) };
}

/** --security-opt seccomp=unconfined (the only one so far); the default is mayu's default profile. */
export function seccompOption(opts: string[]): 'default' | 'unconfined' {
  let mode: 'default' | 'unconfined' = 'default';
  for (const o of opts) {
    if (o === 'seccomp=unconfined') mode = 'unconfined';
    else if (o !== 'seccomp=default') throw invalidArgument('--security-opt', o, 'must be seccomp=default or seccomp=unconfined');
  }
  return mode;
}

/** -e K=V, or -e K to take K from this environment. */
export function parseEnv(text: string): string {
  if (/^[^=]+=/.test(text)) return text;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(text) && process.env[text] !== undefined) return `${text}=${process.env[text]}`;
  throw invalidArgument('--env', text, 'must be KEY=VALUE (or the name of a variable set here)');
}

const MEMORY_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** --memory as Docker takes it: bytes, or a number with b, k, m, g or t (binary units); at least 6 MiB, as Docker's minimum. */
export function parseMemory(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmgt]?)b?$/i.exec(text.trim());
  const bytes = m ? Math.floor(Number(m[1]) * (MEMORY_UNITS[(m[2] ?? '').toLowerCase()] ?? NaN)) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 6 * 1024 * 1024) throw invalidArgument('--memory', text, 'must be a size of at least 6m (bytes, or a number with b, k, m, g)');
  return bytes;
}

/** --cpus as Docker takes it: CPUs, fractions allowed, as a CFS quota over a 100 ms period. */
export function parseCpus(text: string): { quota: number; period: number } {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(n >= 0.01) || n > 1024) throw invalidArgument('--cpus', text, 'must be a number of CPUs from 0.01 (fractions allowed)');
  return { quota: Math.round(n * 100_000), period: 100_000 };
}

/**
 * The container's memory and CPU limits (--memory, --cpus) in its spec: its
 * cgroup in the guest gets exactly them, and the VM is sized for them on top
 * of the configured defaults, as the shim sizes a container's (vmSizeFromSpec).
 */
export function withLimits(spec: Record<string, unknown>, memory: string | undefined, cpus: string | undefined): Record<string, unknown> {
  if (memory === undefined && cpus === undefined) return spec;
  const linux = (spec.linux ?? {}) as { resources?: Record<string, unknown> };
  const resources = { ...(linux.resources ?? {}) };
  if (memory !== undefined) resources.memory = { ...(resources.memory ?? {}), limit: parseMemory(memory) };
  if (cpus !== undefined) resources.cpu = { ...(resources.cpu ?? {}), ...parseCpus(cpus) };
  return { ...spec, linux: { ...linux, resources } };
}

type RunValues = ReturnType<typeof parseRunArgs>['values'];

function parseRunArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      rm: { type: 'boolean', default: false },
      detach: { type: 'boolean', short: 'd', default: false },
      interactive: { type: 'boolean', short: 'i', default: false },
      tty: { type: 'boolean', short: 't', default: false },
      env: { type: 'string', short: 'e', multiple: true, default: [] },
      volume: { type: 'string', short: 'v', multiple: true, default: [] },
      workdir: { type: 'string', short: 'w' },
      user: { type: 'string', short: 'u' },
      name: { type: 'string' },
      bundle: { type: 'string' },
      'read-only': { type: 'boolean', default: false },
      'security-opt': { type: 'string', multiple: true, default: [] },
      network: { type: 'string' },
      publish: { type: 'string', short: 'p', multiple: true, default: [] },
      memory: { type: 'string', short: 'm' },
      cpus: { type: 'string' },
      config: { type: 'string' },
    },
  });
}

/** An OCI bundle, as runc takes it: DIR/config.json and its root.path (relative to DIR). */
function bundleRequest(dir: string, id: string, values: RunValues): RunRequest & { image: string } {
  const configPath = join(dir, 'config.json');
  let spec: Record<string, unknown>;
  try {
    spec = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw invalidArgument('--bundle', configPath, `is not a readable JSON file (${(err as Error).message})`);
  }
  const root = (spec.root ?? {}) as { path?: string };
  if (typeof root.path !== 'string') throw invalidArgument('/root/path', root.path, 'must be a path (relative to the bundle)');
  const rootfs = resolve(dir, root.path);
  const terminal = Boolean((spec.process as { terminal?: boolean } | undefined)?.terminal) || values.tty;
  return { id, rootfs, rootfsKind: 'bundle', bundle: dir, spec, terminal, stdin: values.interactive, image: `bundle ${dir}` };
}

async function imageRequest(image: string, cmd: string[], id: string, values: RunValues, log: Logger): Promise<RunRequest & { image: string }> {
  const resolved = await resolveImage(image);
  if (resolved.droppedEntries > 0) log.warn({ image, dropped: resolved.droppedEntries }, 'the image has device nodes or FIFOs: they were not unpacked');
  const spec = defaultSpec(resolved.rootfs, resolved.config, {
    args: cmd,
    env: values.env.map(parseEnv),
    cwd: values.workdir,
    user: values.user,
    terminal: values.tty,
    consoleSize: terminalSize(),
    readOnlyRootfs: values['read-only'],
    seccomp: seccompOption(values['security-opt']),
    volumes: values.volume.map(parseVolume),
  });
  return { id, rootfs: resolved.rootfs, rootfsKind: 'image', spec, terminal: values.tty, stdin: values.interactive, image };
}

function newRecord(req: RunRequest & { image: string }, detached: boolean): RunRecord {
  const { id, image, spec } = req;
  const p = spec.process as { args?: string[]; env?: string[]; cwd?: string; user?: { uid: number; gid: number } } | undefined;
  return {
    id,
    image,
    args: p?.args ?? [],
    createdAt: new Date().toISOString(),
    detached,
    status: 'starting',
    exit: null,
    error: null,
    ownerPid: process.pid,
    sandboxDir: null,
    process: { env: p?.env ?? [], cwd: p?.cwd ?? '/', user: p?.user ?? { uid: 0, gid: 0 } },
    rootfs: req.rootfs,
  };
}

/**
 * mayu run: a container in its own micro-VM. Attached, the exit status is the
 * container's; detached (-d), a monitor process owns the sandbox and this
 * command prints the id once the container runs.
 */
export async function runCommand(args: string[], log: Logger): Promise<number> {
  const { values, positionals } = parseRunArgs(args);
  const config = configFrom(values.config);
  let req: RunRequest & { image: string };
  if (values.bundle) {
    const [id, ...extra] = positionals;
    if (!id || extra.length > 0) throw new UsageError('run --bundle DIR takes exactly one argument: the container id');
    req = bundleRequest(resolve(values.bundle), id, values);
  } else {
    const [image, ...cmd] = positionals;
    if (!image) throw new UsageError('run needs an IMAGE (an OCI layout, an OCI archive or a rootfs directory)');
    req = await imageRequest(image, cmd, values.name ?? `run-${randomBytes(4).toString('hex')}`, values, log);
  }
  req.spec = withLimits(req.spec, values.memory, values.cpus);
  if (values.detach && (values.interactive || values.tty)) throw new UsageError('-d cannot be combined with -i or -t: attach with mayu exec instead');
  req.network = resolveRunNetwork(parseRunNetwork(values.network, values.publish), config.runtime.hostNamespaces, (path) =>
    log.warn({ netns: path }, 'the host\'s own network namespace: the run gets the VM\'s network instead (runtime.host_namespaces = "vm")'),
  );
  await reapOrphanedRuns(config, log);
  const dir = createRun(config.runtime.stateDir, newRecord(req, values.detach));
  if (values.detach) return detach(dir, req, values.config);
  return attachRun({ dir, req, config, log, remove: values.rm });
}

/** Starts the monitor, waits until it reports the container running (or failing), prints the id. */
async function detach(dir: string, req: RunRequest, configPath: string | undefined): Promise<number> {
  writeFileSync(join(dir, 'request.json'), JSON.stringify({ ...req, configPath: configPath ?? process.env.MAYU_CONFIG }), { mode: 0o600 });
  const logFd = openSync(join(dir, 'monitor.log'), 'a', 0o600);
  const main = process.argv[1] ?? '';
  const monitor = spawn(process.execPath, [main, '_monitor', dir], { detached: true, stdio: ['ignore', 'ignore', logFd, 'pipe'] });
  closeSync(logFd);
  const pipe = monitor.stdio[3] as NodeJS.ReadableStream;
  const report = await new Promise<{ ok?: boolean; error?: string; code?: string }>((resolveReport) => {
    let text = '';
    pipe.on('data', (c: Buffer) => (text += c.toString()));
    pipe.on('end', () => {
      try {
        resolveReport(JSON.parse(text) as { ok?: boolean; error?: string });
      } catch {
        resolveReport({ error: `the monitor ended without a report (see ${join(dir, 'monitor.log')})` });
      }
    });
  });
  monitor.unref();
  if (!report.ok) {
    if (existsSync(dir)) removeRun(dir);
    const code = (ERROR_CODES as readonly string[]).includes(report.code ?? '') ? (report.code as ErrorCode) : 'ERR_INTERNAL';
    throw new MayuError(code, report.error ?? 'the container did not start', { details: { id: req.id } });
  }
  process.stdout.write(`${req.id}\n`);
  return 0;
}
