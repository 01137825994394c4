import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { invalidArgument, MayuError } from '@mayu/protocol';

/** How long one CNI plugin may run. */
const PLUGIN_TIMEOUT_MS = 30_000;

/** Where network configurations are looked for ($MAYU_CNI_CONF_DIR first), as nerdctl and podman do. */
export function cniConfDirs(env = process.env): string[] {
  return [...(env.MAYU_CNI_CONF_DIR ? [env.MAYU_CNI_CONF_DIR] : []), '/etc/cni/net.d'];
}

/** Where plugins are looked for: $CNI_PATH, else Debian's and the upstream default. */
export function cniPluginDirs(env = process.env): string[] {
  return env.CNI_PATH ? env.CNI_PATH.split(delimiter) : ['/usr/lib/cni', '/opt/cni/bin'];
}

interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [k: string]: unknown;
}

export interface NetworkConfList {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
  /** The file it came from. */
  file: string;
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/** What ADD produced, kept to give DEL (and recorded for a crash). */
export interface CniAttachment {
  network: string;
  file: string;
  /** The configuration as ADD ran it: DEL runs the same, even if the file changed or went. */
  conf: NetworkConfList;
  containerId: string;
  netns: string;
  ifName: string;
  portMappings: PortMapping[];
  result: unknown;
}

/** The configuration named `name` (.conflist, or a single-plugin .conf/.json) in the usual directories. */
export function findNetwork(name: string, dirs = cniConfDirs()): NetworkConfList {
  for (const dir of dirs) {
    let files: string[];
    try {
      files = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const f of files.filter((x) => /\.(conflist|conf|json)$/.test(x))) {
      const file = join(dir, f);
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (doc.name !== name) continue;
      const plugins = Array.isArray(doc.plugins) ? (doc.plugins as PluginConf[]) : [doc as unknown as PluginConf];
      if (plugins.some((p) => typeof p.type !== 'string' || !/^[A-Za-z0-9_-]+$/.test(p.type))) throw invalidArgument('--network', `cni:${name}`, `${file}: a plugin without a valid "type"`);
      return { cniVersion: String(doc.cniVersion ?? '1.0.0'), name, plugins, file };
    }
  }
  throw invalidArgument('--network', `cni:${name}`, `no CNI network named ${JSON.stringify(name)} in ${dirs.join(', ')}`);
}

function pluginPath(type: string, dirs: string[]): string {
  const path = dirs.map((d) => join(d, type)).find((p) => existsSync(p));
  if (!path) throw new MayuError('ERR_HOST_CAPABILITY', `CNI plugin ${type} not found in ${dirs.join(', ')} (install containernetworking-plugins)`, { details: { type } });
  return path;
}

async function runPlugin(
  command: 'ADD' | 'DEL',
  plugin: PluginConf,
  conf: NetworkConfList,
  a: Omit<CniAttachment, 'result' | 'file' | 'network' | 'conf'>,
  prevResult: unknown,
  dirs: string[],
): Promise<unknown> {
  const stdin: Record<string, unknown> = { ...plugin, cniVersion: conf.cniVersion, name: conf.name };
  if (prevResult !== undefined) stdin.prevResult = prevResult;
  if (plugin.capabilities?.portMappings && a.portMappings.length > 0) stdin.runtimeConfig = { portMappings: a.portMappings };
  const path = pluginPath(plugin.type, dirs);
  try {
    const r = await execa(path, [], {
      input: JSON.stringify(stdin),
      timeout: PLUGIN_TIMEOUT_MS,
      env: { CNI_COMMAND: command, CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netns, CNI_IFNAME: a.ifName, CNI_PATH: dirs.join(delimiter) },
      extendEnv: true,
    });
    return r.stdout.trim() ? (JSON.parse(r.stdout) as unknown) : prevResult;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; shortMessage?: string };
    let msg = e.stderr?.trim() || e.shortMessage || String(err);
    try {
      msg = (JSON.parse(e.stdout ?? '') as { msg?: string }).msg ?? msg;
    } catch {
      // not a CNI error document
    }
    throw new MayuError('ERR_INTERNAL', `CNI ${command} of network ${conf.name} (plugin ${plugin.type}): ${msg}`, { cause: err, details: { network: conf.name, plugin: plugin.type } });
  }
}

/**
 * Runs a network configuration's plugins in order (ADD), as containerd and
 * nerdctl do, for a container whose network namespace is `netns`; returns
 * what DEL needs. On a failure, what was added is deleted.
 */
export async function cniAdd(conf: NetworkConfList, a: { containerId: string; netns: string; ifName?: string; portMappings?: PortMapping[] }, dirs = cniPluginDirs()): Promise<CniAttachment> {
  const args = { containerId: a.containerId, netns: a.netns, ifName: a.ifName ?? 'eth0', portMappings: a.portMappings ?? [] };
  let result: unknown;
  const done: PluginConf[] = [];
  try {
    for (const plugin of conf.plugins) {
      result = await runPlugin('ADD', plugin, conf, args, result, dirs);
      done.push(plugin);
    }
  } catch (err) {
    for (const plugin of done.reverse()) await runPlugin('DEL', plugin, conf, args, result, dirs).catch(() => {});
    throw err;
  }
  return { ...args, network: conf.name, file: conf.file, conf, result };
}

/** DEL in reverse order, with the configuration ADD ran; never throws (a container's teardown goes on). */
export async function cniDel(a: CniAttachment, dirs = cniPluginDirs()): Promise<void> {
  for (const plugin of [...a.conf.plugins].reverse()) await runPlugin('DEL', plugin, a.conf, a, a.result, dirs).catch(() => {});
}
