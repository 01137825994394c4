import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDirOf } from '../../src/host/cgroups.js';

/** The cgroup hierarchies mounted here (v1 ones by their directory under /sys/fs/cgroup, and v2's). */
function hierarchies(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4] ?? '');
}

describe("host cgroups: the pod's cgroup the VM is counted in", () => {
  it('takes cgroupfs paths as they are and systemd slice:prefix:name as the directories systemd makes', () => {
    assert.equal(cgroupDirOf('/kubepods/burstable/pod1234/abcd'), '/kubepods/burstable/pod1234/abcd');
    assert.equal(cgroupDirOf('/default/task/'), '/default/task');
    assert.equal(cgroupDirOf('kubepods-burstable-pod1234.slice:cri-containerd:abcd'), '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-abcd.scope');
    assert.equal(cgroupDirOf(':crio:abcd'), '/crio-abcd.scope');
  });

  it('refuses a path that is relative, steps up, is the root or a malformed slice, naming linux.cgroupsPath and the value', () => {
    for (const bad of ['kubepods/pod', '/kubepods/../../etc', '/a/./b', '/', 'bad:crio:x', 'a--b.slice:crio:x'])
      assert.throws(
        () => cgroupDirOf(bad),
        (err: Error) => err.message.includes('linux.cgroupsPath') && err.message.includes(JSON.stringify(bad)),
        bad,
      );
  });

  it('a process joins the pod cgroup in every hierarchy, what it starts after is there too, and leaving removes what it made (real cgroupfs)', function () {
    if (process.getuid?.() !== 0) this.skip();
    const top = `mayu-unit-${randomBytes(4).toString('hex')}`;
    const path = `/${top}/pod-a/sandbox-a`;
    // A child joins and leaves, so that this test process stays where it is.
    const script = `
      import { spawnSync } from 'node:child_process';
      import { joinPodCgroup } from ${JSON.stringify(new URL('../../src/host/cgroups.js', import.meta.url).href)};
      const errors = [];
      const p = joinPodCgroup(${JSON.stringify(path)}, (dir, err) => errors.push(dir + ': ' + err.message));
      const child = spawnSync('cat', ['/proc/self/cgroup'], { encoding: 'utf8' }).stdout;
      p.leave();
      console.log(JSON.stringify({ dirs: p.dirs, made: p.made, child, errors }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const out = JSON.parse(r.stdout || 'null') as { dirs: string[]; made: string[]; child: string; errors: string[] } | null;
    try {
      assert.ok(out, r.stderr);
      assert.deepEqual(out.errors, []);
      // One directory per hierarchy mounted, each the pod's path; the process started after joining is in it.
      assert.equal(out.dirs.length, hierarchies().length);
      for (const d of out.dirs) assert.ok(d.endsWith(path), d);
      for (const line of out.child.trim().split('\n')) assert.ok(line.endsWith(`:${path}`), `a process started after joining: ${line}`);
      // All three levels were made in each hierarchy, deepest first, and are gone after leave.
      assert.equal(out.made.length, 3 * out.dirs.length);
      for (const d of out.made) assert.equal(existsSync(d), false, `${d} is removed`);
    } finally {
      for (const h of hierarchies())
        for (const d of [path, `/${top}/pod-a`, `/${top}`])
          try {
            rmdirSync(join(h, d));
          } catch {
            // Gone already (the test's pass).
          }
    }
  });
});
