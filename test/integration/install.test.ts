import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDirSafely } from '@mayu/runtime';
import { parse as parseToml } from 'smol-toml';
import { EXAMPLE_IMAGE, MAYU_RUNTIME, PrivateContainerd } from '../helpers/containerd.js';
import { REPO_ROOT } from '../helpers/guest-factory.js';

describe('scripts/install-containerd (staged install, real containerd and VM)', () => {
  let root: string;
  let ctrd: PrivateContainerd | undefined;
  let failed: string | undefined;

  before(() => {
    root = mkdtempSync('/run/mayu-test-install-');
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed ??= this.currentTest.fullTitle();
  });
  after(async () => {
    await ctrd?.stop(failed);
    removeDirSafely(root);
  });

  it("installs the shim, CLI, guest image and config, and merges the runtime into containerd's config once", () => {
    const install = () => spawnSync(join(REPO_ROOT, 'scripts/install-containerd'), ['--root', root, '--no-setup', '--merge'], { encoding: 'utf8' });
    const first = install();
    assert.equal(first.status, 0, first.stderr);
    for (const f of [
      'usr/local/bin/containerd-shim-mayu-v2',
      'usr/local/bin/mayu',
      'usr/local/bin/mayu-runtime',
      'usr/local/lib/mayu/vsock.node',
      'usr/share/mayu/guest-image/manifest.json',
      'usr/share/mayu/guest-image/vmlinux',
      'etc/mayu/configuration.toml',
    ]) {
      assert.ok(existsSync(join(root, f)), `${f} is installed`);
    }
    const version = spawnSync(join(root, 'usr/local/bin/containerd-shim-mayu-v2'), ['-v'], { encoding: 'utf8' });
    assert.match(version.stdout, /Runtime: io\.containerd\.mayu\.v2/);
    const runtimeVersion = spawnSync(join(root, 'usr/local/bin/mayu-runtime'), ['--version'], { encoding: 'utf8' });
    assert.match(runtimeVersion.stdout, /^mayu-runtime version \d+\.\d+\.\d+\nspec: 1\.0\.2\n$/);
    const config = parseToml(readFileSync(join(root, 'etc/mayu/configuration.toml'), 'utf8')) as { sandbox: { guest_image_dir: string } };
    assert.equal(config.sandbox.guest_image_dir, join(root, 'usr/share/mayu/guest-image'));

    const second = install();
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, /already has the mayu runtime/);
    const ctrdConfig = parseToml(readFileSync(join(root, 'etc/containerd/config.toml'), 'utf8')) as {
      version: number;
      plugins: Record<string, { containerd: { runtimes: Record<string, { runtime_type: string; options: { ConfigPath: string } }> } }>;
    };
    assert.equal(ctrdConfig.version, 2);
    const mayu = ctrdConfig.plugins['io.containerd.grpc.v1.cri']?.containerd.runtimes.mayu;
    assert.equal(mayu?.runtime_type, MAYU_RUNTIME);
    assert.equal(mayu?.options.ConfigPath, join(root, 'etc/mayu/configuration.toml'));
  });

  it("merges into a containerd 2.x config (version 3) under CRI's runtime plugin, keeping what was there and a backup", () => {
    const v3 = join(root, 'containerd-2.toml');
    const before = 'version = 3\n\n[plugins."io.containerd.cri.v1.images".pinned_images]\n  sandbox = "registry.k8s.io/pause:3.10"\n';
    writeFileSync(v3, before);
    const r = spawnSync(join(REPO_ROOT, 'scripts/install-containerd'), ['--root', root, '--no-setup', '--merge', '--containerd-config', v3], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(`${v3}.before-mayu`, 'utf8'), before);
    const merged = parseToml(readFileSync(v3, 'utf8')) as {
      version: number;
      plugins: Record<string, { containerd?: { runtimes: Record<string, { runtime_type: string; privileged_without_host_devices: boolean }> }; pinned_images?: { sandbox: string } }>;
    };
    assert.equal(merged.version, 3);
    assert.equal(merged.plugins['io.containerd.cri.v1.runtime']?.containerd?.runtimes.mayu?.runtime_type, MAYU_RUNTIME);
    assert.equal(merged.plugins['io.containerd.cri.v1.runtime']?.containerd?.runtimes.mayu?.privileged_without_host_devices, true);
    assert.equal(merged.plugins['io.containerd.cri.v1.images']?.pinned_images?.sandbox, 'registry.k8s.io/pause:3.10', 'what was there stays');
    assert.equal(merged.plugins['io.containerd.grpc.v1.cri'], undefined, "nothing under 1.x's CRI plugin");
  });

  it("containerd runs a container through the installed shim, without the repository's node_modules", async () => {
    ctrd = await PrivateContainerd.start({ shimDir: join(root, 'usr/local/bin'), guestImageDir: join(root, 'usr/share/mayu/guest-image') });
    const started = await ctrd.ctr(['run', '-d', '--runtime', MAYU_RUNTIME, '--runtime-config-path', ctrd.mayuConfig, EXAMPLE_IMAGE, 'inst-1', 'sleep', '600']);
    assert.equal(started.code, 0, started.stderr);
    try {
      const qemu = spawnSync('ps', ['-o', 'args=', '-p', String(ctrd.vms()[0])], { encoding: 'utf8' }).stdout;
      assert.ok(qemu.includes(join(root, 'usr/share/mayu/guest-image/vmlinux')), `the VM boots the installed kernel: ${qemu}`);
      const shim = spawnSync('ps', ['-o', 'args=', '-p', String(ctrd.shims()[0])], { encoding: 'utf8' }).stdout;
      assert.ok(shim.includes(join(root, 'usr/local/lib/mayu/containerd-shim-mayu-v2.mjs')), `the installed shim serves: ${shim}`);
      const exec = await ctrd.ctr(['tasks', 'exec', '--exec-id', 'e1', 'inst-1', 'uname', '-r']);
      assert.equal(exec.code, 0, exec.stderr);
      assert.match(exec.stdout, /^6\.1\.\d+\n$/);
    } finally {
      await ctrd.ctr(['tasks', 'kill', '--signal', 'SIGKILL', 'inst-1']);
      await ctrd.ctr(['tasks', 'rm', '--force', 'inst-1']);
      await ctrd.ctr(['containers', 'rm', 'inst-1']);
      await ctrd.settle();
    }
  });
});
