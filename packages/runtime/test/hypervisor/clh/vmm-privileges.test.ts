import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handOverToVmm, planVmmUser, type VmmNeeds } from '../../../src/hypervisor/clh/vmm-privileges.js';
import { VMM_UID_BASE } from '../../../src/hypervisor/vmm-user.js';

/** A stat of made-up files: path → [uid, gid, mode]. Directories not listed are root's 0755. */
function fakeStat(files: Record<string, [number, number, number]>): (p: string) => Stats {
  return (p: string) => {
    const [uid, gid, mode] = files[p] ?? [0, 0, 0o755];
    return { uid, gid, mode } as Stats;
  };
}

const needs: VmmNeeds = {
  stateDir: '/run/mayu/sandboxes/sb1',
  vmmDir: '/run/mayu/sandboxes/sb1/clh',
  reads: ['/img/vmlinux', '/img/rootfs.erofs', '/run/mayu/sandboxes/sb1/rootfs-0.erofs'],
  writes: [],
  connects: ['/run/mayu/sandboxes/sb1/virtiofsd.sock'],
  kvm: '/dev/kvm',
};
const files = { '/img/vmlinux': [0, 0, 0o644], '/img/rootfs.erofs': [0, 0, 0o644], '/dev/kvm': [0, 0, 0o666], '/run/mayu/sandboxes/sb1/rootfs-0.erofs': [0, 0, 0o600] } as Record<
  string,
  [number, number, number]
>;

describe('who Cloud Hypervisor runs as', () => {
  it('run_as = "root": root (setpriv still takes every capability)', () => {
    assert.deepEqual(planVmmUser({ runAs: 'root', sandboxId: 'sb1', needs, stat: fakeStat(files) }), { user: null, reason: 'run_as = "root"', problems: [] });
  });

  it('"auto": a uid of the sandbox\'s own when it reaches the guest image and /dev/kvm (state-directory files are handed over)', () => {
    const plan = planVmmUser({ runAs: 'auto', sandboxId: 'sb1', needs, stat: fakeStat(files) });
    assert.ok(plan.user && plan.user.uid >= VMM_UID_BASE && plan.user.gid === plan.user.uid);
    assert.deepEqual(plan.user.groups, []);
    assert.deepEqual(plan.problems, []);
  });

  it('"auto": /dev/kvm of a non-root group adds that group; root-only /dev/kvm keeps root', () => {
    const kvmGroup = planVmmUser({ runAs: 'auto', sandboxId: 'sb1', needs, stat: fakeStat({ ...files, '/dev/kvm': [0, 993, 0o660] }) });
    assert.deepEqual(kvmGroup.user?.groups, [993]);
    const rootOnly = planVmmUser({ runAs: 'auto', sandboxId: 'sb1', needs, stat: fakeStat({ ...files, '/dev/kvm': [0, 0, 0o660] }) });
    assert.equal(rootOnly.user, null);
    assert.match(rootOnly.reason, /could not reach \/dev\/kvm \(usable by root only\); staying root without capabilities/);
  });

  it('"auto": a guest image under a private directory keeps root, naming it; "UID:GID" is used anyway, with the problem', () => {
    const stat = fakeStat({ ...files, '/img': [0, 0, 0o700] });
    const auto = planVmmUser({ runAs: 'auto', sandboxId: 'sb1', needs, stat });
    assert.equal(auto.user, null);
    assert.match(auto.reason, /\/img \(not searchable\)/);
    const explicit = planVmmUser({ runAs: '1000:1000', sandboxId: 'sb1', needs, stat });
    assert.deepEqual(explicit.user, { uid: 1000, gid: 1000, groups: [] });
    assert.deepEqual(explicit.problems, ['/img (not searchable)', '/img (not searchable)']);
  });

  it('hands over the state directory: root:GID 0710, its own directory, group access to what it reads and connects to, ownership of what it writes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mayu-clh-priv-'));
    try {
      const stateDir = join(dir, 'state');
      mkdirSync(stateDir, { mode: 0o700 });
      const ro = join(stateDir, 'rootfs-0.erofs');
      const rw = join(stateDir, 'disk-1.img');
      const sock = join(stateDir, 'virtiofsd.sock');
      for (const f of [ro, rw, sock]) writeFileSync(f, '', { mode: 0o600 });
      const user = { uid: 2000000123, gid: 2000000124, groups: [] };
      handOverToVmm(user, { stateDir, vmmDir: join(stateDir, 'clh'), reads: [ro, '/etc/hostname'], writes: [rw], connects: [sock], kvm: '/dev/kvm' });
      const st = (p: string): [number, number, number] => {
        const s = statSync(p);
        return [s.uid, s.gid, s.mode & 0o7777];
      };
      assert.deepEqual(st(stateDir), [0, user.gid, 0o710]);
      assert.deepEqual(st(join(stateDir, 'clh')), [user.uid, user.gid, 0o700]);
      assert.deepEqual(st(ro), [0, user.gid, 0o640]);
      assert.deepEqual(st(sock), [0, user.gid, 0o660]);
      assert.deepEqual(st(rw), [user.uid, user.gid, 0o600]);
      assert.deepEqual(st('/etc/hostname').slice(0, 2), [0, 0], 'files outside the state directory are left alone');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
