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
          { path: '/dev/host-disk', type: 'b' as const, major: 254, minor: 0 },
          { path: '/dev/host-pty', type: 'c' as const, major: 136, minor: 3 },
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
    assert.deepEqual(r.devices, [
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 0 },
      // Nothing there in the guest, and its numbers name no guest device: made as written, as runc would (it opens with ENXIO).
      { path: '/dev/nvidia0', type: 'c', major: 195, minor: 0 },
    ]);
    assert.deepEqual(r.dropped, ['/dev/host-disk', '/dev/host-pty'], "numbers that would name the guest's disk, or a terminal, are left out");
    assert.deepEqual(r.rules, [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
    ]);
  });

  it("refuses, naming it, a device the guest does not have for a Kubernetes pod's container (a device plugin's or CDI device's node): no host device reaches a VM", () => {
    const annotations = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod' };
    const devices = [
      { path: '/dev/fuse', type: 'c' as const, major: 10, minor: 229 },
      { path: '/dev/fifo', type: 'p' as const },
      { path: '/dev/nvidia0', type: 'c' as const, major: 195, minor: 0 },
    ];
    const spec = { annotations, linux: { devices } };
    assert.throws(() => guestDevices(spec, { lookup, list: () => GUEST }), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /^\/linux\/devices\/2\/path: the VM has no such device \(host c 195:0\): a host device never reaches a mayu VM .*passthrough.* \(got "\/dev\/nvidia0"\)$/,
    });
    assert.deepEqual(
      guestDevices({ annotations, linux: { devices: devices.slice(0, 2) } }, { lookup, list: () => GUEST }).devices.map((d) => d.path),
      ['/dev/fuse', '/dev/fifo'],
      'a fifo is made as written',
    );
  });

  it("gives a privileged container (its device cgroup allows all) the guest's devices, never the host's", () => {
    const spec = { linux: { devices: [{ path: '/dev/kvm', type: 'c' as const, major: 10, minor: 232 }], resources: { devices: [privileged] } } };
    assert.ok(allowsAllDevices(spec));
    const r = guestDevices(spec, { lookup, list: () => GUEST });
    assert.deepEqual(
      r.devices.map((d) => `${d.path} ${d.type} ${d.major}:${d.minor}`),
      ['/dev/fuse c 10:229', '/dev/net/tun c 10:200', '/dev/vda b 254:0', '/dev/kvm c 10:232'],
      "the host's /dev/kvm becomes a node no guest driver answers",
    );
    assert.deepEqual(r.dropped, []);
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

  it('never gives a container the agent channels, consoles or terminals, asked by path or by number', () => {
    const asked = ['/dev/vport1p1', '/dev/hvc0', '/dev/ttyS0', '/dev/console'].map((path) => ({ path, type: 'c' as const, major: 1, minor: 1 }));
    const r = guestDevices({ linux: { devices: asked } }, { lookup: (path) => ({ path, type: 'c', major: 4, minor: 64 }) });
    assert.deepEqual(r.devices, []);
    assert.equal(r.dropped.length, 4);
    // The agent's port under another name: its numbers are the guest's (the full listing, channels included).
    const channel: OciDevice = { path: '/dev/vport1p1', type: 'c', major: 244, minor: 1 };
    const byNumber = guestDevices(
      {
        linux: {
          devices: [
            { path: '/dev/innocent', type: 'c', major: 244, minor: 1 },
            { path: '/dev/fifo', type: 'p' },
          ],
        },
      },
      { lookup: () => null, list: (all) => (all ? [...GUEST, channel] : GUEST) },
    );
    assert.deepEqual(byNumber.dropped, ['/dev/innocent']);
    assert.deepEqual(byNumber.devices, [{ path: '/dev/fifo', type: 'p' }]);
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
