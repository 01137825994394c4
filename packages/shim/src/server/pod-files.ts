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

/** A container's spec with the pod's files bound in where it mounts nothing itself. */
export function withPodFiles<S>(raw: S, files: PodFileMount[]): S {
  const spec = raw as { mounts?: { destination?: unknown }[] };
  const taken = new Set((Array.isArray(spec.mounts) ? spec.mounts : []).map((m) => m?.destination));
  const added = files.filter((f) => !taken.has(f.destination));
  return added.length === 0 ? raw : ({ ...spec, mounts: [...(spec.mounts ?? []), ...added] } as S);
}
