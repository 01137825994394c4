import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { containersMemoryMax } from '../../src/system/cgroups.js';
import { GuestResources } from '../../src/system/guest-resources.js';

const MiB = 1048576;

/** A guest's sysfs CPUs, meminfo and cgroup root in a directory: cpu0 (no switch) and cpu1..cpu3 offline. */
function fakeGuest(dir: string, memTotalMib: number) {
  const paths = { cpus: join(dir, 'cpu'), meminfo: join(dir, 'meminfo'), cgroupRoot: join(dir, 'cgroup') };
  for (let n = 0; n < 4; n++) {
    mkdirSync(join(paths.cpus, `cpu${n}`), { recursive: true });
    if (n > 0) writeFileSync(join(paths.cpus, `cpu${n}`, 'online'), '0\n');
  }
  mkdirSync(join(paths.cpus, 'cpufreq'));
  mkdirSync(join(paths.cgroupRoot, 'mayu'), { recursive: true });
  const setMem = (mib: number) => writeFileSync(paths.meminfo, `MemTotal:       ${mib * 1024} kB\nMemFree:        1000 kB\n`);
  setMem(memTotalMib);
  return { paths, setMem, online: (n: number) => readFileSync(join(paths.cpus, `cpu${n}`, 'online'), 'utf8').trim() };
}

describe('GuestResources: the guest takes what its VM grew by', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mayu-resources-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("onlines vCPUs up to the number asked, waits for the plugged memory, and raises the containers' cap with it", async () => {
    const g = fakeGuest(dir, 490);
    const resources = new GuestResources(pino({ level: 'silent' }), g.paths);
    // The kernel onlines the plugged blocks a moment after the host's call.
    setTimeout(() => g.setMem(490 + 1024), 30);
    const r = await resources.resize({ vcpus: 3, addedMemoryBytes: 1024 * MiB, timeoutMs: 5000 });
    assert.deepEqual([g.online(1), g.online(2), g.online(3)], ['1', '1', '0']);
    assert.deepEqual(r, { onlineCpus: 3, memoryTotalBytes: 1514 * MiB, containersMemoryMaxBytes: containersMemoryMax(1514 * MiB) });
    assert.equal(readFileSync(join(g.paths.cgroupRoot, 'mayu/memory.max'), 'utf8'), String(containersMemoryMax(1514 * MiB)));
    const again = await resources.resize({ vcpus: 1, addedMemoryBytes: 1024 * MiB, timeoutMs: 5000 });
    assert.equal(again.onlineCpus, 3, 'a VM never shrinks: fewer vCPUs asked takes none offline');
  });

  it('fails, naming what is online, when the memory does not come; refuses a count or size it cannot have', async () => {
    const g = fakeGuest(dir, 490);
    const resources = new GuestResources(pino({ level: 'silent' }), g.paths);
    await assert.rejects(resources.resize({ vcpus: 1, addedMemoryBytes: 512 * MiB, timeoutMs: 50 }), {
      code: 'ERR_TIMEOUT',
      message: `the guest has ${490 * MiB} bytes of memory online, not the ${1002 * MiB} the host gave it, after 50 ms`,
    });
    await assert.rejects(resources.resize({ vcpus: 5, addedMemoryBytes: 0, timeoutMs: 50 }), /vcpus: must be 1 to the 4 vCPUs this VM has \(got 5\)/);
    await assert.rejects(resources.resize({ vcpus: 0, addedMemoryBytes: 0, timeoutMs: 50 }), /vcpus/);
    await assert.rejects(resources.resize({ vcpus: 1, addedMemoryBytes: -1, timeoutMs: 50 }), /added_memory_bytes/);
    await assert.rejects(resources.resize({ vcpus: 1, addedMemoryBytes: 0, timeoutMs: 10 ** 9 }), /timeout_ms: must be 1 to 120000/);
    assert.equal(g.online(1), '0', 'nothing was onlined for a refused call');
  });
});
