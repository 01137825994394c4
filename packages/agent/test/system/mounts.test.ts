import assert from 'node:assert/strict';
import { mountedTargets, SYSTEM_MOUNTS } from '../../src/system/mounts.js';

describe('system mounts', () => {
  it('reads mount points from mountinfo, spaces included', () => {
    const info = ['22 1 254:0 / / ro,relatime - erofs /dev/vda ro', '23 22 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw', '30 22 0:30 / /mnt/with\\040space rw - tmpfs tmpfs rw'].join('\n');
    assert.deepEqual([...mountedTargets(info)], ['/', '/dev', '/mnt/with space']);
  });

  it('mounts what a container runtime needs, parents first', () => {
    const targets = SYSTEM_MOUNTS.map((m) => m.target);
    for (const t of ['/proc', '/sys', '/dev', '/dev/pts', '/dev/shm', '/run', '/sys/fs/cgroup']) assert.ok(targets.includes(t), t);
    assert.ok(targets.indexOf('/dev') < targets.indexOf('/dev/pts'));
    assert.ok(targets.indexOf('/sys') < targets.indexOf('/sys/fs/cgroup'));
  });
});
