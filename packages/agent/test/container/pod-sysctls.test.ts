import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setPodNetSysctls, takePodNetSysctls } from '../../src/container/pod-sysctls.js';
import type { OciSpec } from '../../src/oci/types.js';

function spec(namespaces: { type: string; path?: string }[], sysctl: Record<string, string>): OciSpec {
  return { ociVersion: '1.0.2', process: { args: ['true'], cwd: '/' }, root: { path: '/r' }, linux: { namespaces, sysctl } };
}

describe("network sysctls of a container in the VM's network (its pod's)", () => {
  it('takes net.* out of the spec of a container without a network namespace of its own, and leaves the rest for crun', () => {
    const r = takePodNetSysctls(spec([{ type: 'pid' }], { 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shm_rmid_forced': '1' }));
    assert.deepEqual(r.net, [['net.ipv4.ip_unprivileged_port_start', '0']]);
    assert.deepEqual((r.spec.linux as { sysctl?: unknown }).sysctl, { 'kernel.shm_rmid_forced': '1' });
    const own = spec([{ type: 'network' }], { 'net.ipv4.ip_forward': '1' });
    assert.deepEqual(takePodNetSysctls(own), { spec: own, net: [] }, 'a network namespace of its own: crun sets them there');
    assert.throws(() => takePodNetSysctls(spec([], { 'net.ipv4/../../x': '1' })), /\/linux\/sysctl\/net.ipv4\/..\/..\/x: is not a sysctl name/);
  });

  it('sets them under /proc/sys, naming the key when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mayu-sysctl-'));
    try {
      mkdirSync(join(dir, 'net/ipv4'), { recursive: true });
      writeFileSync(join(dir, 'net/ipv4/ip_unprivileged_port_start'), '1024');
      setPodNetSysctls([['net.ipv4.ip_unprivileged_port_start', '0']], dir);
      assert.equal(readFileSync(join(dir, 'net/ipv4/ip_unprivileged_port_start'), 'utf8'), '0');
      assert.throws(() => setPodNetSysctls([['net.nope.x', '1']], dir), /\/linux\/sysctl\/net.nope.x: cannot be set on the pod's network/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
