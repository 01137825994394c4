import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AgentClient } from '../agent/agent-client.js';
import type { RuntimeConfig } from '../config/runtime-config.js';
import type { Hypervisor, HypervisorFactory, VmSpec } from '../hypervisor/hypervisor.js';
import { templateMac } from '../hypervisor/template-mac.js';
import { createNamedNetns, deleteNamedNetns, inNetns } from '../network/netns.js';
import { emptyConfig } from '../image/image-config.js';
import { defaultSpec } from '../oci/default-spec.js';
import { GuestLogRelay } from '../sandbox/guest-log-relay.js';
import { TemplateStore, type Template, type TemplateManifest } from './template-store.js';

/**
 * Why a VM of `spec` cannot start from a template (null: it can). Boot
 * disks are per sandbox and not in a template's device set; virtio-fs needs
 * guest RAM in a shared memfd, and 9p is what a template is saved with.
 */
export function templateIneligibility(spec: VmSpec, hypervisor: Hypervisor): string | null {
  if (!hypervisor.capabilities.snapshot || !hypervisor.saveState || !hypervisor.templateIdentity) return `hypervisor ${hypervisor.kind} cannot save and restore a VM`;
  if ((spec.disks ?? []).length > 0) return 'the sandbox has boot disks (container_rootfs = "block")';
  if ((spec.sharedDirs ?? []).some((d) => d.kind === 'virtio-fs')) return 'virtio-fs needs guest RAM in a shared memfd';
  if (spec.debug) return 'a debug sandbox boots cold (its guest logs start at boot)';
  return null;
}

/**
 * The files of a guest image, resolved, with their size and modification
 * time: a template of another build of the image (a new `current`, or files
 * replaced in place) is another template.
 */
function imageFiles(spec: VmSpec): string[] {
  return [spec.kernel, spec.rootfs.path].map((p) => {
    const real = realpathSync(p);
    const st = statSync(real);
    return `${real} ${st.size} ${Math.round(st.mtimeMs)}`;
  });
}

/** How a template is built (what runs in it before it is saved): a template built otherwise is another template. */
const TEMPLATE_RECIPE = 2;

/** The key of a template: a hash of the hypervisor's identity of the spec, the image's files and the recipe. */
export function templateKey(identity: string, image: readonly string[]): string {
  return createHash('sha256')
    .update(JSON.stringify({ identity, image, recipe: TEMPLATE_RECIPE }))
    .digest('hex')
    .slice(0, 16);
}

const WARM_UP_ID = 'mayu-template-warm-up';

/**
 * Runs one container in the template VM before it is saved (the guest's own
 * root bound read-only: `crun --version` under mayu's default spec, seccomp
 * included), then removes it. What that leaves is saved with the template
 * and every clone starts with it: crun and its libraries in the guest's
 * page cache, the agent's container paths compiled by V8, the kernel's
 * caches warm. Nothing of the container remains.
 */
async function warmUp(agent: AgentClient): Promise<void> {
  const rootfs = `/run/mayu/${WARM_UP_ID}`;
  const spec = defaultSpec(rootfs, emptyConfig(), { args: ['/usr/bin/crun', '--version'], env: [], terminal: false, volumes: [], readOnlyRootfs: true });
  const storages = [{ driver: 'bind' as const, source: '/', fstype: '', options: ['ro'], mountPoint: rootfs }];
  await agent.createContainer({ containerId: WARM_UP_ID, spec, storages, stdio: { terminal: false, stdin: false } });
  try {
    await agent.startContainer(WARM_UP_ID);
    const exit = await agent.waitProcess({ containerId: WARM_UP_ID, execId: '' });
    if (exit.exitStatus !== 0) throw new Error(`the warm-up container exited ${exit.exitStatus}`);
  } finally {
    await agent.removeContainer(WARM_UP_ID);
  }
}

/**
 * Kata's "VM factory": VM templates. The first sandbox of a kind has a
 * template VM booted to its agent and saved (TemplateStore); every sandbox
 * of that kind starts as a clone of it (VmSpec.memoryFile private +
 * VmSpec.incoming). When the template VM is saved it runs nothing but the
 * guest kernel and the agent: the warm-up container is gone, no shared
 * directory is mounted (9p refuses to save a VM that has one mounted), no
 * host connection is open.
 */
export class VmFactory {
  readonly store: TemplateStore;

  constructor(
    private readonly o: {
      config: RuntimeConfig;
      /** Makes the hypervisor driver of a template VM (the sandbox's own factory). */
      hypervisorFactory: HypervisorFactory;
      log: Logger;
    },
  ) {
    this.store = new TemplateStore(o.config.factory.templateDir, o.log);
  }

  /**
   * The template a VM of `spec` can be restored from, built now if there
   * is none; null when the spec cannot use one, or another process is
   * building it (the caller boots cold).
   */
  async templateFor(spec: VmSpec, hypervisor: Hypervisor): Promise<Template | null> {
    const why = templateIneligibility(spec, hypervisor);
    if (why) {
      this.o.log.debug({ why }, 'no template: booting cold');
      return null;
    }
    const identity = (hypervisor.templateIdentity as (s: VmSpec) => string).call(hypervisor, spec);
    const image = imageFiles(spec);
    const key = templateKey(identity, image);
    const template = await this.store.ensure(key, this.o.config.factory.maxTemplates, (dir) => this.build(dir, key, identity, image, spec));
    if (!template) this.o.log.info({ key }, 'template being built by another process: booting cold');
    return template;
  }

  /** Boots the template VM in `dir` (its RAM is `dir/memory`), waits for the agent, saves it to `dir/state`. */
  private async build(dir: string, key: string, identity: string, image: string[], spec: VmSpec): Promise<TemplateManifest> {
    const startedAt = performance.now();
    const log = this.o.log.child({ template: key });
    const stateDir = join(dir, 'vm');
    mkdirSync(stateDir, { mode: 0o700 });
    const sharedDirs = spec.sharedDirs?.map((d) => ({ ...d, path: join(dir, 'export', d.id) }));
    for (const d of sharedDirs ?? []) mkdirSync(d.path, { recursive: true, mode: 0o700 });
    const nics = spec.nics?.map((n, i) => ({ ...n, mac: templateMac(i) })) ?? [];
    // Its NICs need taps of the same names, in a network namespace of its own.
    const netnsName = nics.length > 0 ? `mayu-tpl-${randomBytes(4).toString('hex')}` : null;
    const relay = new GuestLogRelay(log.child({ subsystem: 'guest' }));
    const hypervisor = this.o.hypervisorFactory({ config: this.o.config, log: log.child({ subsystem: 'hypervisor' }), onGuestLog: (s) => relay.attach(s) });
    try {
      const netns = netnsName ? await createNamedNetns(netnsName) : undefined;
      for (const n of nics) await inNetns(netns as string, 'ip', ['tuntap', 'add', 'dev', n.tap, 'mode', 'tap']);
      hypervisor.prepare({
        ...spec,
        id: `template-${key}`,
        stateDir,
        sharedDirs,
        nics,
        netns,
        disks: [],
        memoryFile: { path: join(dir, 'memory'), shared: true },
        incoming: undefined,
        dieWithParent: true,
      });
      await hypervisor.start();
      const agent = await AgentClient.open({
        endpoint: hypervisor.agentEndpoint(),
        bridgeSocket: join(stateDir, 'agent-grpc.sock'),
        dialTimeoutMs: this.o.config.agent.dialTimeoutMs,
        callTimeoutMs: this.o.config.agent.callTimeoutMs,
        log,
      });
      try {
        await agent.waitReady();
        await warmUp(agent);
      } finally {
        // Saved with no host connection open: a clone's first connection is then its only one.
        agent.close();
      }
      await (hypervisor.saveState as (f: string) => Promise<void>).call(hypervisor, join(dir, 'state'));
    } finally {
      await hypervisor.destroy();
      await hypervisor.cleanup();
      if (netnsName) await deleteNamedNetns(netnsName);
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(join(dir, 'export'), { recursive: true, force: true });
    }
    return {
      key,
      createdAt: new Date().toISOString(),
      buildMs: Math.round(performance.now() - startedAt),
      vcpus: spec.vcpus,
      memoryMib: spec.memoryMib,
      image,
      nicMacs: nics.map((n) => n.mac),
      identity,
    };
  }
}
