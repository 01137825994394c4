import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sys } from '../../src/system/sys.js';

const mountedUnder = (dir: string): string[] =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(dir));

/**
 * The addon's pinNamespaces on this machine (as root): the pod's own IPC and
 * UTS namespaces made and pinned, the caller left in its own.
 */
describe("the pod's own namespaces, pinned (the agent's addon, for real)", function () {
  let dir: string;
  before(function () {
    if (process.getuid?.() !== 0) this.skip();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-pin-'));
  });
  afterEach(() => {
    for (const m of mountedUnder(dir)) execFileSync('umount', [m]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes new IPC and UTS namespaces with the hostname, pinned on DIR/ipc and DIR/uts; the caller stays in its own', () => {
    const ownUts = readlinkSync('/proc/thread-self/ns/uts');
    const ownIpc = readlinkSync('/proc/thread-self/ns/ipc');
    const ownName = hostname();
    writeFileSync(join(dir, 'ipc'), '');
    writeFileSync(join(dir, 'uts'), '');
    sys().pinNamespaces(dir, 'pod-host');
    assert.equal(readlinkSync('/proc/thread-self/ns/uts'), ownUts);
    assert.equal(readlinkSync('/proc/thread-self/ns/ipc'), ownIpc);
    assert.equal(hostname(), ownName);
    assert.equal(execFileSync('nsenter', [`--uts=${join(dir, 'uts')}`, 'hostname'], { encoding: 'utf8' }).trim(), 'pod-host');
    const pinnedIpc = execFileSync('nsenter', [`--ipc=${join(dir, 'ipc')}`, 'readlink', '/proc/self/ns/ipc'], { encoding: 'utf8' }).trim();
    assert.match(pinnedIpc, /^ipc:\[\d+\]$/);
    assert.notEqual(pinnedIpc, ownIpc);
    assert.deepEqual(mountedUnder(dir).sort(), [join(dir, 'ipc'), join(dir, 'uts')]);
  });

  it('fails with the errno and leaves nothing mounted when a pin cannot be made (no DIR/uts)', () => {
    const ownUts = readlinkSync('/proc/thread-self/ns/uts');
    writeFileSync(join(dir, 'ipc'), '');
    assert.throws(() => sys().pinNamespaces(dir, 'pod-host'), { code: 'ENOENT', syscall: 'mount' });
    assert.deepEqual(mountedUnder(dir), []);
    assert.equal(readlinkSync('/proc/thread-self/ns/uts'), ownUts);
  });
});
