import assert from 'node:assert/strict';
import { podSharedNamespaces, specForGuest } from '../../src/sandbox/guest-spec.js';

/** A container spec as containerd's CRI plugin writes it for a pod container. */
function criContainerSpec(): Record<string, unknown> {
  return {
    ociVersion: '1.0.2-dev',
    process: { args: ['sleep', '1'], cwd: '/', apparmorProfile: 'cri-containerd.apparmor.d', selinuxLabel: 'system_u:x' },
    root: { path: 'rootfs' },
    linux: {
      mountLabel: 'system_u:y',
      namespaces: [
        { type: 'pid', path: '/proc/4242/ns/pid' },
        { type: 'ipc', path: '/proc/4242/ns/ipc' },
        { type: 'uts', path: '/proc/4242/ns/uts' },
        { type: 'mount' },
        { type: 'network', path: '/var/run/netns/cni-1234' },
      ],
    },
  };
}

const drop = { lsmLabels: 'drop' } as const;

describe('the spec a guest gets', () => {
  it("makes the rootfs absolute under the bundle, follows the task's terminal, and drops host security labels only when told to", () => {
    const dropped: string[] = [];
    const spec = specForGuest(criContainerSpec(), { bundle: '/run/ctrd/bundle', terminal: true, lsmLabels: 'drop', onDropped: (f) => dropped.push(f) });
    assert.deepEqual(spec.root, { path: '/run/ctrd/bundle/rootfs' });
    assert.equal(spec.process?.terminal, true);
    assert.equal(spec.process?.apparmorProfile, undefined);
    assert.equal(spec.process?.selinuxLabel, undefined);
    assert.equal(spec.linux?.mountLabel, undefined);
    assert.deepEqual(dropped, ['/process/apparmorProfile', '/process/selinuxLabel', '/linux/mountLabel'], 'each drop is reported, not silent');
    assert.deepEqual(specForGuest({ ...criContainerSpec(), root: { path: '/abs/root', readonly: true } }, { bundle: '/b', terminal: false, ...drop }).root, { path: '/abs/root', readonly: true });
  });

  it('ignores top-level properties it does not know, as the runtime-spec says (each reported); keeps hooks for the agent to refuse', () => {
    const ignored: string[] = [];
    const spec = specForGuest(
      { ...criContainerSpec(), unknown: 'x', vm: { hypervisor: { path: '/x' } }, hooks: { prestart: [] } },
      { bundle: '/b', terminal: false, ...drop, onIgnored: (f) => ignored.push(f) },
    );
    assert.deepEqual(ignored, ['/unknown', '/vm']);
    assert.deepEqual(Object.keys(spec).sort(), [...Object.keys(criContainerSpec()), 'hooks'].sort());
  });

  it('refuses host security labels by default, naming the field', () => {
    assert.throws(() => specForGuest(criContainerSpec(), { bundle: '/b', terminal: false, lsmLabels: 'refuse' }), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /^\/process\/apparmorProfile: the guest kernel has no AppArmor.*runtime.lsm_labels = "drop".*\(got "cri-containerd.apparmor.d"\)/,
    });
    const plain = { ...criContainerSpec(), process: { args: ['sh'], cwd: '/' }, linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }] } };
    assert.doesNotThrow(() => specForGuest(plain, { bundle: '/b', terminal: false, lsmLabels: 'refuse' }));
    assert.doesNotThrow(
      () => specForGuest({ ...plain, process: { args: ['sh'], cwd: '/', apparmorProfile: '' } }, { bundle: '/b', terminal: false, lsmLabels: 'refuse' }),
      'an empty label asks for nothing',
    );
  });

  it("carries no host namespace path into the guest: a joined network namespace goes, pod namespaces become the agent's to join, the rest is refused", () => {
    const spec = specForGuest(criContainerSpec(), { bundle: '/b', terminal: false, ...drop });
    assert.deepEqual(spec.linux?.namespaces, [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }]);
    const own = specForGuest({ ...criContainerSpec(), linux: { namespaces: [{ type: 'network' }, { type: 'ipc' }, { type: 'pid' }, { type: 'cgroup' }] } }, { bundle: '/b', terminal: false, ...drop });
    assert.deepEqual(own.linux?.namespaces, [{ type: 'network' }, { type: 'ipc' }, { type: 'pid' }, { type: 'cgroup' }], 'a network namespace of its own stays');
    assert.throws(
      () =>
        specForGuest(
          { ...criContainerSpec(), linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'network' }, { type: 'mount', path: '/proc/1/ns/mnt' }] } },
          { bundle: '/b', terminal: false, ...drop },
        ),
      { message: /^\/linux\/namespaces\/3\/path: joins an existing mount namespace on the host/ },
    );
  });

  it("refuses host namespaces (hostNetwork, hostIPC, hostPID: no such namespace in the spec), naming the field, unless told to use the VM's", () => {
    const without = (type: string) => ({ ...criContainerSpec(), linux: { namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].filter((t) => t !== type).map((t) => ({ type: t })) } });
    for (const [type, k8s] of [
      ['network', 'hostNetwork'],
      ['ipc', 'hostIPC'],
      ['pid', 'hostPID'],
    ]) {
      assert.throws(() => specForGuest(without(type), { bundle: '/b', terminal: false, ...drop }), {
        code: 'ERR_INVALID_ARGUMENT',
        message: new RegExp(`^/linux/namespaces: has no ${type} namespace: the container would share the host's \\(Kubernetes ${k8s}\\).*runtime.host_namespaces = "vm"`),
      });
      assert.doesNotThrow(() => specForGuest(without(type), { bundle: '/b', terminal: false, ...drop, hostNamespaces: 'vm' }));
    }
  });

  it('with host_namespaces = "vm", a hostNetwork spec of containerd\'s (no network or UTS namespace, a hostname) loses the hostname the VM\'s UTS namespace cannot take, and says so', () => {
    const spec = { ...criContainerSpec(), hostname: 'node-1', linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'mount' }] } };
    const dropped: string[] = [];
    assert.equal(specForGuest(spec, { bundle: '/b', terminal: false, ...drop, hostNamespaces: 'vm', onDropped: (f) => dropped.push(f) }).hostname, undefined);
    assert.ok(dropped.includes('/hostname'));
    const own = { ...spec, linux: { namespaces: [{ type: 'uts' }] } };
    assert.equal(specForGuest(own, { bundle: '/b', terminal: false, ...drop, hostNamespaces: 'vm' }).hostname, 'node-1', 'a UTS namespace of its own keeps it');
  });

  it('refuses a volume asking for shared (bidirectional) propagation, naming the mount; private and slave pass', () => {
    const withMounts = (options: string[]) => ({
      ...criContainerSpec(),
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/v', type: 'bind', source: '/data', options },
      ],
    });
    for (const options of [['rbind', 'rprivate'], ['rbind', 'rslave'], ['bind', 'slave'], ['rbind']]) specForGuest(withMounts(options), { bundle: '/b', terminal: false, ...drop });
    for (const given of ['rshared', 'shared']) {
      assert.throws(() => specForGuest(withMounts(['rbind', given]), { bundle: '/b', terminal: false, ...drop }), {
        code: 'ERR_INVALID_ARGUMENT',
        message: new RegExp(`^/mounts/1/options: bidirectional mount propagation cannot be honoured in a VM.*\\(got "${given}"\\)$`),
      });
    }
  });

  it('does not change the spec it was given', () => {
    const raw = criContainerSpec();
    const copy = structuredClone(raw);
    specForGuest(raw, { bundle: '/b', terminal: true, ...drop });
    assert.deepEqual(raw, copy);
  });

  it('names the namespaces a pod container shares with its sandbox: ipc, uts and pid with a path', () => {
    assert.deepEqual(podSharedNamespaces(criContainerSpec()), ['ipc', 'uts', 'pid']);
    const ownPid = criContainerSpec();
    (ownPid.linux as { namespaces: { type: string; path?: string }[] }).namespaces[0] = { type: 'pid' };
    assert.deepEqual(podSharedNamespaces(ownPid), ['ipc', 'uts'], 'pid namespace mode CONTAINER');
    assert.deepEqual(podSharedNamespaces({ process: {} }), []);
    assert.deepEqual(podSharedNamespaces({ linux: { namespaces: 'bogus' } }), []);
  });
});
