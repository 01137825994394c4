import { writeFileSync } from 'node:fs';
import { invalidArgument } from '@mayu/protocol';
import type { OciSpec } from '../oci/types.js';

/** A network sysctl's key: dotted words, as the kernel names them under /proc/sys/net. */
const NET_SYSCTL = /^net\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * A container with no network namespace of its own runs in the VM's, which
 * is its pod's network (the host's namespace path was dropped: the VM is the
 * boundary). The net.* sysctls its spec sets (Docker's
 * net.ipv4.ip_unprivileged_port_start, a pod's safe sysctls) are then the
 * pod's: they are taken out of the spec, for the agent to set on the VM's
 * namespace (crun refuses a net.* sysctl without a new network namespace).
 */
export function takePodNetSysctls(spec: OciSpec): { spec: OciSpec; net: [string, string][] } {
  const sysctl = (spec.linux as { sysctl?: Record<string, string> } | undefined)?.sysctl;
  const ownNetns = (spec.linux?.namespaces ?? []).some((ns) => ns.type === 'network');
  if (!sysctl || ownNetns) return { spec, net: [] };
  const net = Object.entries(sysctl).filter(([key]) => key.startsWith('net.'));
  if (net.length === 0) return { spec, net };
  for (const [key, value] of net) {
    if (!NET_SYSCTL.test(key)) throw invalidArgument(`/linux/sysctl/${key}`, value, 'is not a sysctl name');
  }
  const rest = Object.fromEntries(Object.entries(sysctl).filter(([key]) => !key.startsWith('net.')));
  return { spec: { ...spec, linux: { ...spec.linux, sysctl: rest } }, net };
}

/** Sets net.* sysctls on the VM's network namespace (this process's); a failure names the key. */
export function setPodNetSysctls(net: [string, string][], procSys = '/proc/sys'): void {
  for (const [key, value] of net) {
    try {
      writeFileSync(`${procSys}/${key.split('.').join('/')}`, value);
    } catch (err) {
      throw invalidArgument(`/linux/sysctl/${key}`, value, `cannot be set on the pod's network (the VM's): ${(err as Error).message}`);
    }
  }
}
