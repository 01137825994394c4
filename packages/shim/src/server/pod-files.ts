import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { criWire } from '@mayu/protocol';

/** A bind mount of a file the shim writes for the pod into each of its containers (as containerd does for a pause container's pod). */
export interface PodFileMount {
  destination: string;
  type: 'bind';
  source: string;
  options: string[];
}

/** The /etc/hosts a pod gets when kubelet mounts none: loopback names only, as containerd writes it. */
const HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';

/**
 * The files containerd writes for a pod with a pause container and binds
 * into each of its containers, which it leaves to the shim under the Sandbox
 * API: /etc/resolv.conf (the pod's DNS configuration, else the host's, as
 * containerd copies it), /etc/hosts and /etc/hostname. Written under `dir`
 * (the sandbox's bundle, containerd's and removed with the pod); the mounts
 * a container gets unless its spec mounts that path itself (kubelet mounts
 * /etc/hosts).
 */
export function writePodFiles(dir: string, pod: { hostname: string; dns: criWire.DNSConfig | undefined }): PodFileMount[] {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const dns = pod.dns;
  const resolv =
    dns && (dns.servers.length > 0 || dns.searches.length > 0 || dns.options.length > 0)
      ? [dns.searches.length > 0 ? `search ${dns.searches.join(' ')}` : '', ...dns.servers.map((s) => `nameserver ${s}`), dns.options.length > 0 ? `options ${dns.options.join(' ')}` : '']
          .filter(Boolean)
          .join('\n') + '\n'
      : existsSync('/etc/resolv.conf')
        ? readFileSync('/etc/resolv.conf', 'utf8')
        : '';
  const files: [string, string, string][] = [
    ['resolv.conf', '/etc/resolv.conf', resolv],
    ['hosts', '/etc/hosts', HOSTS],
    ['hostname', '/etc/hostname', `${pod.hostname}\n`],
  ];
  return files.map(([name, destination, content]) => {
    const source = join(dir, name);
    writeFileSync(source, content, { mode: 0o644 });
    return { destination, type: 'bind' as const, source, options: ['rbind', 'rprivate', 'rw'] };
  });
}

/** What a container of a Sandbox-API pod gets from the pod, which a pause container's spec would otherwise hold. */
export interface PodShares {
  /** The pod's /etc files (resolv.conf, hosts, hostname). */
  files: PodFileMount[];
  /** The pod's sysctls (network ones go to the VM's namespace in the guest; the others to the container's, as the pod's). */
  sysctls: Record<string, string>;
}

/** A container's spec with the pod's files bound in where it mounts nothing itself, and the pod's sysctls under its own. */
export function withPodShares<S>(raw: S, pod: PodShares): S {
  const spec = raw as { mounts?: { destination?: unknown }[]; linux?: { sysctl?: Record<string, string> } };
  const taken = new Set((Array.isArray(spec.mounts) ? spec.mounts : []).map((m) => m?.destination));
  const added = pod.files.filter((f) => !taken.has(f.destination));
  const sysctl = Object.keys(pod.sysctls).length > 0 ? { ...pod.sysctls, ...(spec.linux?.sysctl ?? {}) } : undefined;
  if (added.length === 0 && !sysctl) return raw;
  return { ...spec, mounts: [...(spec.mounts ?? []), ...added], ...(sysctl ? { linux: { ...spec.linux, sysctl } } : {}) } as S;
}
