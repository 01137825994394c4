import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { runtimeVersion } from '../../commands/check.js';
import { askHolder } from '../control.js';
import { RuntimeCliError } from '../errors.js';
import type { GlobalOptions } from '../globals.js';
import { currentStatus, getContainer, liveExecHolders } from '../state.js';
import { agentOf } from './exec.js';

/** The OCI runtime-spec version mayu-runtime implements. */
export const OCI_VERSION = '1.0.2';

export function versionText(): string {
  return `mayu-runtime version ${runtimeVersion()}\nspec: ${OCI_VERSION}\n`;
}

/**
 * mayu-runtime ps [--format table|json] ID: the container's processes. They
 * live in the VM: the table lists them with guest PIDs; the JSON (host PIDs
 * for runc, which engines match against the host's ps) has the host
 * processes that stand for the container's: its holder and the holders of
 * its detached execs.
 */
export async function psCommand(args: string[], g: GlobalOptions): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { format: { type: 'string', short: 'f', default: 'table' } } });
  const [id] = positionals;
  if (!id) throw new RuntimeCliError('ps needs the container id');
  if (values.format !== 'json' && values.format !== 'table') throw new RuntimeCliError(`invalid format option: ${values.format}`);
  const { dir, record } = getContainer(g.root, id);
  if (values.format === 'json') {
    process.stdout.write(`${JSON.stringify(currentStatus(record) === 'stopped' ? [] : [record.pid, ...liveExecHolders(dir)])}\n`);
    return 0;
  }
  const agent = agentOf(record);
  try {
    const procs = await agent.listProcesses(id);
    process.stdout.write(`PID   CMD\n${procs.map((p) => `${String(p.pid).padEnd(5)} ${p.command}\n`).join('')}`);
  } finally {
    agent.close();
  }
  return 0;
}

/**
 * mayu-runtime update --resources FILE|- ID: the container's linux.resources,
 * through the holder of its VM (its own, or its pod's): the VM grows first
 * when the new limits need it, then the guest's cgroup changes.
 */
export async function updateCommand(args: string[], g: GlobalOptions): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { resources: { type: 'string', short: 'r' } } });
  const [id] = positionals;
  if (!id || !values.resources) throw new RuntimeCliError('update needs --resources FILE|- and the container id');
  let resources: unknown;
  try {
    resources = JSON.parse(readFileSync(values.resources === '-' ? 0 : values.resources, 'utf8'));
  } catch (err) {
    throw new RuntimeCliError(`cannot read --resources ${values.resources}: ${(err as Error).message}`);
  }
  const { dir, record } = getContainer(g.root, id);
  if (currentStatus(record) === 'stopped') throw new RuntimeCliError(`container ${id} is not running`);
  await askHolder(record.pod?.dir ?? dir, { op: 'update', id, resources }, 120_000);
  return 0;
}

/** mayu-runtime events [--stats] [--interval 5s] ID: the container's stats as runc prints them, once or every interval until it stops. */
export async function eventsCommand(args: string[], g: GlobalOptions): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { stats: { type: 'boolean', default: false }, interval: { type: 'string', default: '5s' } } });
  const [id] = positionals;
  if (!id) throw new RuntimeCliError('events needs the container id');
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(values.interval);
  if (!m) throw new RuntimeCliError(`invalid --interval ${values.interval}: must be a duration such as 5s`);
  const intervalMs = Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
  for (;;) {
    const { record } = getContainer(g.root, id);
    if (currentStatus(record) === 'stopped') return 0;
    const agent = agentOf(record);
    try {
      const s = await agent.stats(id);
      const data = {
        cpu: {
          usage: { total: s.cpu.usageUsec * 1000, user: s.cpu.userUsec * 1000, kernel: s.cpu.systemUsec * 1000 },
          throttling: { throttledPeriods: s.cpu.nrThrottled, throttledTime: s.cpu.throttledUsec * 1000 },
        },
        memory: {
          usage: { usage: s.memory.usageBytes, limit: s.memory.limitBytes, max: s.memory.maxUsageBytes },
          cache: s.memory.cacheBytes,
          raw: { rss: s.memory.rssBytes, oom_kill: s.memory.oomKills },
        },
        pids: { current: s.pids.current, limit: s.pids.limit },
        blkio: {
          ioServiceBytesRecursive: [
            { op: 'Read', value: s.blkio.readBytes },
            { op: 'Write', value: s.blkio.writeBytes },
          ],
        },
      };
      process.stdout.write(`${JSON.stringify({ type: 'stats', id, data })}\n`);
    } finally {
      agent.close();
    }
    if (values.stats) return 0;
    await sleep(intervalMs);
  }
}

/** mayu-runtime features: what it supports, in the shape runc 1.1 prints. */
export function featuresCommand(): number {
  const features = {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    // Run on the host by the runtime (createRuntime, poststop…) or in the guest; docs/engines.md says which.
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: ['bind', 'rbind', 'ro', 'rw', 'nosuid', 'nodev', 'noexec', 'relatime', 'noatime', 'private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared'],
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'],
      capabilities: [],
      cgroup: { v1: false, v2: true, systemd: false, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_LOG', 'SCMP_ACT_TRAP'],
        operators: ['SCMP_CMP_EQ', 'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_GT', 'SCMP_CMP_GE', 'SCMP_CMP_MASKED_EQ'],
        archs: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { 'io.katacontainers.runtime': 'mayu', 'org.opencontainers.runc.checkpoint.enabled': 'false' },
  };
  process.stdout.write(`${JSON.stringify(features, null, 4)}\n`);
  return 0;
}
