import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { listTemplates } from '../factory/template-status.js';
import type { RuntimeConfig } from '../config/runtime-config.js';
import { gatherKvmFacts, kvmVerdict } from './accel.js';
import { qemuAccel, qemuCheck } from '../hypervisor/qemu/qemu-check.js';
import { locateGuestImage, type GuestImage } from './guest-image.js';
import { SETPRIV } from '../hypervisor/qemu/qemu-launch.js';
import { CLH_KNOWN_VERSIONS, clhVersion, unsupportedVersion } from '../hypervisor/clh/version.js';
import { hostHasVhostVsock } from './vhost-vsock.js';

export type { CheckStatus, HostCheck } from './check-types.js';
import type { CheckStatus, HostCheck } from './check-types.js';

export interface HostReport {
  checks: HostCheck[];
  /** Can this host boot sandboxes (perhaps slowly)? */
  canRun: boolean;
  /** One line for humans. */
  verdict: string;
  accel: string;
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Verifies every artifact of the image against its manifest (size and sha256). */
export async function verifyGuestImage(image: GuestImage): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, a] of Object.entries(image.manifest.artifacts)) {
    try {
      const digest = await sha256(`${image.dir}/${a.file}`);
      if (digest !== a.sha256) problems.push(`${name} (${a.file}) does not match its sha256 in the manifest`);
    } catch (err) {
      problems.push(`${name} (${a.file}): ${(err as Error).message}`);
    }
  }
  return problems;
}

/** What `mayu check` reports: each capability, and what to do about it. */
export async function checkHost(config: RuntimeConfig, agentVersion: string): Promise<HostReport> {
  const checks: HostCheck[] = [];
  const kvm = kvmVerdict(gatherKvmFacts());
  const clh = config.sandbox.hypervisor === 'clh';
  checks.push(
    kvm.usable
      ? { name: 'kvm', status: 'ok', detail: kvm.reason }
      : clh
        ? {
            name: 'kvm',
            status: 'fail',
            detail: `Cloud Hypervisor needs KVM: ${kvm.reason}`,
            fix: 'use a host with VT-x/AMD-V and kvm_intel/kvm_amd loaded, or sandbox.hypervisor = "qemu" (it can emulate)',
          }
        : {
            name: 'kvm',
            status: 'warn',
            detail: kvm.reason,
            fix: 'VMs run under TCG (software emulation, several times slower). For production, use a host with VT-x/AMD-V and kvm_intel/kvm_amd loaded.',
          },
  );
  checks.push(
    hostHasVhostVsock()
      ? { name: 'vhost-vsock', status: 'ok', detail: '/dev/vhost-vsock is available: the agent is reached over vsock' }
      : { name: 'vhost-vsock', status: 'warn', detail: '/dev/vhost-vsock is missing: the agent is reached over virtio-serial', fix: 'modprobe vhost_vsock (optional)' },
  );
  checks.push(qemuCheck(config.hypervisor.qemu, clh));
  checks.push(cloudHypervisorCheck(config));
  checks.push(confinementCheck());
  checks.push(await imageCheck(config, agentVersion));
  checks.push(templateCheck(config));
  const failed = checks.filter((c) => c.status === 'fail');
  const accel = clh ? { accel: 'kvm' } : qemuAccel(config.hypervisor.qemu);
  const canRun = failed.length === 0;
  const verdict = canRun
    ? `ready: sandboxes boot with ${accel.accel.toUpperCase()}${accel.accel === 'tcg' ? ' (software emulation)' : ''}`
    : `not ready: ${failed.map((c) => c.name).join(', ')} failed`;
  return { checks, canRun, verdict, accel: accel.accel };
}

/**
 * The configured cloud-hypervisor binary and its version: 'ok' when it runs
 * (a version newer than mayu knows is noted), 'fail' when it is missing or
 * too old and sandbox.hypervisor = "clh", else 'warn'.
 */
export function cloudHypervisorCheck(config: RuntimeConfig, versionOf = clhVersion): HostCheck {
  const path = config.hypervisor.clh.path;
  const bad: CheckStatus = config.sandbox.hypervisor === 'clh' ? 'fail' : 'warn';
  const unused = bad === 'warn' ? ' (needed only with sandbox.hypervisor = "clh")' : '';
  const fix = `install Cloud Hypervisor v${CLH_KNOWN_VERSIONS.oldest} or later (its static release binary), or set hypervisor.clh.path`;
  const version = versionOf(path);
  if (!version) return { name: 'cloud-hypervisor', status: bad, detail: `${path} cannot be run${unused}`, fix };
  const old = unsupportedVersion(version);
  if (old) return { name: 'cloud-hypervisor', status: bad, detail: `${old}${unused}`, fix };
  const newer = version.major > CLH_KNOWN_VERSIONS.newest ? ` (newer than v${CLH_KNOWN_VERSIONS.newest}, the newest mayu was written against)` : '';
  return { name: 'cloud-hypervisor', status: 'ok', detail: `Cloud Hypervisor ${version.text} (${path})${newer}` };
}

/** QEMU is started through util-linux's setpriv (bounded capabilities, no_new_privs, parent-death signal). */
function confinementCheck(): HostCheck {
  try {
    const out = execFileSync(SETPRIV, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    return { name: 'vmm-confinement', status: 'ok', detail: `${out.trim()}: the VMM runs with bounded capabilities, no_new_privs and a parent-death signal` };
  } catch {
    return { name: 'vmm-confinement', status: 'fail', detail: 'setpriv cannot be run: no VMM (QEMU, Cloud Hypervisor) is started without it', fix: 'apt-get install util-linux' };
  }
}

async function imageCheck(config: RuntimeConfig, agentVersion: string): Promise<HostCheck> {
  let image: GuestImage;
  try {
    image = locateGuestImage(config.sandbox.guestImageDir);
  } catch (err) {
    return { name: 'guest-image', status: 'fail', detail: (err as Error).message, fix: 'run guest-image/build (scripts/setup does)' };
  }
  const problems = await verifyGuestImage(image);
  if (problems.length > 0) {
    return { name: 'guest-image', status: 'fail', detail: `${image.dir}: ${problems.join('; ')}`, fix: 'rebuild it with guest-image/build' };
  }
  const m = image.manifest;
  if (m.agent.version !== agentVersion) {
    return {
      name: 'guest-image',
      status: 'fail',
      detail: `${image.dir} has agent ${m.agent.version}, this runtime is ${agentVersion}`,
      fix: 'rebuild it with guest-image/build',
    };
  }
  return { name: 'guest-image', status: 'ok', detail: `${image.dir}: kernel ${m.kernel.release}, agent ${m.agent.version}, built ${m.builtAt}` };
}

/** VM templates: off, unavailable with this hypervisor, or on with what is built. */
function templateCheck(config: RuntimeConfig): HostCheck {
  const dir = config.factory.templateDir;
  if (!config.factory.template) return { name: 'templates', status: 'ok', detail: 'off ([factory] template = false): every sandbox boots cold' };
  if (config.sandbox.hypervisor !== 'qemu') return { name: 'templates', status: 'warn', detail: `${config.sandbox.hypervisor} cannot restore a VM yet: every sandbox boots cold` };
  const templates = listTemplates(config);
  const stale = templates.filter((t) => t.stale).length;
  const mib = templates.reduce((n, t) => n + t.residentMib, 0);
  return {
    name: 'templates',
    status: 'ok',
    detail: `on: ${templates.length} template${templates.length === 1 ? '' : 's'} in ${dir} (${mib} MiB of guest RAM)${stale ? `, ${stale} stale` : ''}; the first sandbox of a kind builds one`,
    ...(stale ? { fix: 'mayu template rm --stale' } : {}),
  };
}
