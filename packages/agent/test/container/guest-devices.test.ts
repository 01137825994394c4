import assert from 'node:assert/strict';
import { allowsAllDevices, guestDevices, isPrivileged, listGuestDevices, type OciDevice } from '../../src/container/guest-devices.js';

/** The guest's devices in these tests: its own numbering, not the host's. */
const GUEST: OciDevice[] = [
  { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/net/tun', type: 'c', major: 10, minor: 200, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/vda', type: 'b', major: 254, minor: 0, fileMode: 0o660, uid: 0, gid: 0 },
];
const lookup = (path: string): OciDevice | null => GUEST.find((d) => d.path === path) ?? null;
const privileged = { allow: true, access: 'rwm' };

describe('devices a container gets in the guest', () => {
  it('resolves each requested device by path to the guest device there, and rewrites its cgroup rule', () => {
    const spec = {
      linux: {
        // As the host wrote them: the host's numbers.
        devices: [
          { path: '/dev/fuse', type: 'c' as const, major: 10, minor: 230, fileMode: 0o600 },
          { path: '/dev/nvidia0', type: 'c' as const, major: 195, minor: 0 },
        ],
        resources: {
          devices: [
            { allow: false, access: 'rwm' },
            { allow: true, type: 'c', major: 10, minor: 230, access: 'rwm' },
          ],
        },
      },
    };
    const r = guestDevices(spec, { lookup, list: () => GUEST });
    assert.deepEqual(r.devices, [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 0 }]);
    assert.deepEqual(r.dropped, ['/dev/nvidia0'], 'a device the guest does not have is left out');
    assert.deepEqual(r.rules, [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
    ]);
  });

  it("gives a privileged container (its device cgroup allows all) the guest's devices, never the host's", () => {
    const spec = { linux: { devices: [{ path: '/dev/kvm', type: 'c' as const, major: 10, minor: 232 }], resources: { devices: [privileged] } } };
    assert.ok(allowsAllDevices(spec));
    const r = guestDevices(spec, { lookup, list: () => GUEST });
    assert.deepEqual(
      r.devices.map((d) => `${d.path} ${d.type} ${d.major}:${d.minor}`),
      ['/dev/fuse c 10:229', '/dev/net/tun c 10:200', '/dev/vda b 254:0'],
    );
    assert.deepEqual(r.dropped, ['/dev/kvm'], "the host's /dev/kvm is not the guest's");
  });

  it("recognises containerd's privileged container without host devices (all capabilities, nothing masked) and allows it every guest device", () => {
    const spec = { process: { capabilities: { bounding: ['CAP_CHOWN', 'CAP_SYS_ADMIN'] } }, linux: { maskedPaths: [], resources: { devices: [{ allow: false, access: 'rwm' }] } } };
    assert.ok(isPrivileged(spec));
    const r = guestDevices(spec, { lookup, list: () => GUEST });
    assert.equal(r.devices.length, 3);
    assert.deepEqual(r.rules, [
      { allow: false, access: 'rwm' },
      { allow: true, access: 'rwm' },
    ]);
    assert.ok(!isPrivileged({ ...spec, linux: { maskedPaths: ['/proc/kcore'] } }), 'a container with masked paths is not privileged');
    assert.ok(!isPrivileged({ process: { capabilities: { bounding: ['CAP_NET_ADMIN'] } } }), 'nor one without CAP_SYS_ADMIN');
  });

  it('never gives a container the agent channels, consoles or terminals, even when asked by path', () => {
    const asked = ['/dev/vport1p1', '/dev/hvc0', '/dev/ttyS0', '/dev/console'].map((path) => ({ path, type: 'c' as const, major: 1, minor: 1 }));
    const r = guestDevices({ linux: { devices: asked } }, { lookup: (path) => ({ path, type: 'c', major: 4, minor: 64 }) });
    assert.deepEqual(r.devices, []);
    assert.equal(r.dropped.length, 4);
    assert.ok(listGuestDevices().every((d) => !/\/dev\/(tty\d*|ttyS\d+|hvc\d+|vport\d+p\d+|console|ptmx)$/.test(d.path)));
  });

  it('is not privileged for narrower device rules, and leaves a spec without devices as it was', () => {
    assert.ok(!allowsAllDevices({ linux: { resources: { devices: [{ allow: true, type: 'c', access: 'rwm' }] } } }));
    assert.ok(!allowsAllDevices({ linux: { resources: { devices: [{ allow: true, access: 'rw' }] } } }));
    assert.deepEqual(guestDevices({}, { lookup, list: () => GUEST }), { devices: [], rules: undefined, dropped: [] });
  });

  it('reads device numbers as the kernel encodes them (listing this machine’s /dev)', () => {
    const null_ = listGuestDevices().find((d) => d.path === '/dev/null');
    assert.deepEqual([null_?.type, null_?.major, null_?.minor], ['c', 1, 3]);
  });
});
