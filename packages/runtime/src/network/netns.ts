import { execa } from 'execa';
import { MayuError } from '@mayu/protocol';
import { isHostNamespace } from '../host/namespaces.js';

/** How long one command in a pod's network namespace may take. */
const NETNS_COMMAND_TIMEOUT_MS = 10_000;

/**
 * Runs a command (iproute2's ip or tc) inside a network namespace given by
 * its path (/var/run/netns/..., /proc/PID/ns/net), through nsenter.
 * Failures are ERR_INTERNAL naming the command and what it said.
 */
export async function inNetns(netns: string, command: string, args: readonly string[]): Promise<string> {
  try {
    const r = await execa('nsenter', [`--net=${netns}`, '--', command, ...args], { timeout: NETNS_COMMAND_TIMEOUT_MS });
    return r.stdout;
  } catch (err) {
    const e = err as { stderr?: string; shortMessage?: string };
    throw new MayuError('ERR_INTERNAL', `in network namespace ${netns}: ${command} ${args.join(' ')}: ${e.stderr?.trim() || e.shortMessage || String(err)}`, {
      cause: err,
      details: { netns, command, args },
    });
  }
}

/** JSON output of `ip -j ...` in the namespace. */
export async function ipJson<T>(netns: string, args: readonly string[]): Promise<T[]> {
  const out = await inNetns(netns, 'ip', ['-j', ...args]);
  return out.trim() ? (JSON.parse(out) as T[]) : [];
}

/** Where `ip netns` keeps named network namespaces. */
export const NAMED_NETNS_DIR = '/run/netns';

/** Creates a named network namespace (for a `mayu run --network cni:` container); returns its path. */
export async function createNamedNetns(name: string): Promise<string> {
  try {
    await execa('ip', ['netns', 'add', name], { timeout: NETNS_COMMAND_TIMEOUT_MS });
  } catch (err) {
    throw new MayuError('ERR_INTERNAL', `cannot create network namespace ${name}: ${(err as { stderr?: string }).stderr?.trim() ?? String(err)}`, { cause: err });
  }
  return `${NAMED_NETNS_DIR}/${name}`;
}

/** Deletes a named network namespace; never throws. */
export async function deleteNamedNetns(name: string): Promise<void> {
  await execa('ip', ['netns', 'del', name], { timeout: NETNS_COMMAND_TIMEOUT_MS }).catch(() => {});
}

/**
 * Refuses a network namespace that is the machine's own (PID 1's) before
 * anything of a pod is put in it: the last guard under the front ends'
 * check (resolveHostNamespaces), which also knows the engine's namespace.
 */
export function requirePodNetns(netns: string): void {
  if (isHostNamespace('network', netns, { self: false })) {
    throw new MayuError('ERR_INVALID_ARGUMENT', `network namespace ${netns} is the host's own: nothing of a pod is put in it`, { details: { netns } });
  }
}
