import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mayuRuntimeFor, PrivateDocker, PrivatePodman } from '../helpers/engines.js';
import { useGuestFactory } from '../helpers/guest-factory.js';
import { entriesOf as entries, processesMentioning } from '../helpers/leftovers.js';
import { finished } from '../helpers/run-cli.js';
import { testImage } from '../helpers/test-image.js';

const GUEST_KERNEL = /^6\.1\.\d+\s*$/;

/** No VM, holder or sandbox of mayu's is left (the engine's own daemons are the harness's to end). */
function assertNoVmLeft(stateRoot: string): void {
  assert.deepEqual(entries(join(stateRoot, 'sandboxes')), []);
  assert.deepEqual(
    processesMentioning(stateRoot).filter((p) => p.cmdline.includes('qemu') || p.cmdline.includes('_holder')),
    [],
  );
}

/** In a container limited to 1 GiB and 2 CPUs: a 700 MiB block (the default 512 MiB VM cannot hold it), the CPUs, its cgroup's limits. */
const SIZED_SCRIPT = 'dd if=/dev/zero of=/dev/null bs=700M count=1 2>&1 | tail -n1; nproc; cg="/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)"; cat "$cg/memory.max" "$cg/cpu.max"';

function assertSized(stdout: string): void {
  const [copied, cpus, memoryMax, cpuMax] = stdout.trim().split('\n');
  assert.match(copied ?? '', /^1\+0 records out/, `a 700 MiB block held: ${stdout}`);
  assert.ok(Number(cpus) >= 2, `nproc ${cpus}`);
  assert.equal(memoryMax, String(1024 ** 3), "the container's cgroup has exactly its memory limit");
  assert.match(cpuMax ?? '', /^200000 100000$/, 'and its CPU limit');
}

describe('engines: podman runs its containers in mayu VMs through mayu-runtime (real podman, real VMs)', () => {
  let podman: PrivatePodman;
  // Before the factory's check for leftovers (hooks run in the order they are made): conmon's exit command
  // (podman container cleanup) may still be running when a foreground run has returned.
  afterEach(async () => (podman as PrivatePodman | undefined)?.cleanup());
  const vms = useGuestFactory();
  beforeEach(async () => {
    podman = new PrivatePodman(join(vms().stateRoot, 'podman'), mayuRuntimeFor(vms().stateRoot, vms().configFile()));
    const load = await podman.run(['load', '-i', (await testImage()).archive]);
    assert.equal(load.code, 0, load.stderr);
  });

  it("run --rm prints the guest kernel; the exit code is the container's; -i passes stdin; -t gives a terminal", async () => {
    const r = await podman.run(['run', '--rm', 'mayu-example', 'uname', '-r']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, GUEST_KERNEL);
    assert.equal((await podman.run(['run', '--rm', 'mayu-example', 'sh', '-c', 'exit 3'])).code, 3);
    const i = await podman.run(['run', '--rm', '-i', 'mayu-example', 'sh', '-c', 'cat; echo "<eof>"'], 'piped\n');
    assert.deepEqual([i.code, i.stdout], [0, 'piped\n<eof>\n'], i.stderr);
    const t = await podman.run(['run', '--rm', '-t', 'mayu-example', 'sh', '-c', 'tty; stty size']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^\/dev\/pts\/\d+\r\n\d+ \d+\r\n$/);
    assertNoVmLeft(vms().stateRoot);
  });

  it('--memory 1g --cpus 2 sizes the VM as the shim does: the container holds 700 MiB, sees 2 CPUs, and its cgroup has exactly its limits', async () => {
    const r = await podman.run(['run', '--rm', '--memory', '1g', '--cpus', '2', 'mayu-example', 'sh', '-c', SIZED_SCRIPT]);
    assert.equal(r.code, 0, r.stderr);
    assertSized(r.stdout);
    assertNoVmLeft(vms().stateRoot);
  });

  it('exec, stop, kill and rm -f', async () => {
    assert.equal((await podman.run(['run', '-d', '--name', 'c1', 'mayu-example', 'sleep', '600'])).code, 0);
    const e = await podman.run(['exec', 'c1', 'sh', '-c', 'echo in-exec; exit 4']);
    assert.deepEqual([e.code, e.stdout], [4, 'in-exec\n'], e.stderr);
    const stop = await podman.run(['stop', '-t', '1', 'c1']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await podman.run(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'c1'])).stdout.trim(), 'exited 137');
    assert.equal((await podman.run(['run', '-d', '--name', 'c2', 'mayu-example', 'sh', '-c', 'trap "exit 9" USR1; while :; do sleep 0.2; done'])).code, 0);
    assert.equal((await podman.run(['kill', '--signal', 'USR1', 'c2'])).code, 0);
    assert.equal((await podman.run(['wait', 'c2'])).stdout.trim(), '9');
    assert.equal((await podman.run(['run', '-d', '--name', 'c3', 'mayu-example', 'sleep', '600'])).code, 0);
    const rm = await podman.run(['rm', '-f', 'c1', 'c2', 'c3']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await podman.run(['ps', '-aq'])).stdout, '');
    assertNoVmLeft(vms().stateRoot);
  });
});

describe('engines: Docker 20.10 runs its containers in mayu VMs through mayu-runtime (real dockerd, real VMs)', () => {
  let docker: PrivateDocker;
  // Before the factory's check for leftovers (hooks run in the order they are made): dockerd and its containerd are ours to stop.
  afterEach(async () => (docker as PrivateDocker | undefined)?.cleanup());
  const vms = useGuestFactory();
  beforeEach(async () => {
    docker = new PrivateDocker(join(vms().stateRoot, 'docker'), { mayu: mayuRuntimeFor(vms().stateRoot, vms().configFile()) });
    await docker.start();
    const load = await docker.run(['load', '-i', (await testImage()).dockerArchive]);
    assert.equal(load.code, 0, load.stderr);
  });

  it('docker run --rm --runtime mayu prints the guest kernel; exit codes; -i; -t', async () => {
    const r = await docker.run(['run', '--rm', '--runtime', 'mayu', '--network', 'none', 'mayu-example', 'uname', '-r']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, GUEST_KERNEL);
    assert.equal((await docker.run(['run', '--rm', '--runtime', 'mayu', '--network', 'none', 'mayu-example', 'sh', '-c', 'exit 3'])).code, 3);
    const i = await docker.run(['run', '--rm', '-i', '--runtime', 'mayu', '--network', 'none', 'mayu-example', 'sh', '-c', 'cat; echo "<eof>"'], 'piped\n');
    assert.deepEqual([i.code, i.stdout], [0, 'piped\n<eof>\n'], i.stderr);
    const t = docker.startClient(['run', '--rm', '-t', '--runtime', 'mayu', '--network', 'none', 'mayu-example', 'sh', '-c', 'tty']);
    t.stdin?.end();
    const tr = await finished(t);
    assert.equal(tr.code, 0, tr.stderr);
    assert.match(tr.stdout, /^\/dev\/pts\/\d+\r\n$/);
    assertNoVmLeft(vms().stateRoot);
  });

  it('docker run -m 1g --cpus 2 sizes the VM as the shim does: the container holds 700 MiB, sees 2 CPUs, and its cgroup has exactly its limits', async () => {
    const r = await docker.run(['run', '--rm', '--runtime', 'mayu', '--network', 'none', '-m', '1g', '--cpus', '2', 'mayu-example', 'sh', '-c', SIZED_SCRIPT]);
    assert.equal(r.code, 0, r.stderr);
    assertSized(r.stdout);
    assertNoVmLeft(vms().stateRoot);
  });

  it("a Docker bridge network reaches the VM: its address (set by Docker's prestart hook in the holder's namespace) is the guest's eth0", async () => {
    // Internal: no gateway, no route out, no iptables; only this test's containers are on it.
    const net = await docker.run(['network', 'create', '--internal', '--subnet', '10.213.7.0/24', 'mayu-test-net']);
    assert.equal(net.code, 0, net.stderr);
    try {
      const r = await docker.run(['run', '--rm', '--runtime', 'mayu', '--network', 'mayu-test-net', 'mayu-example', 'sh', '-c', 'uname -r; ip -4 -o addr show eth0 | tr -s " " | cut -d" " -f4']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^6\.1\.\d+\n10\.213\.7\.\d+\/24\n$/);
    } finally {
      assert.equal((await docker.run(['network', 'rm', 'mayu-test-net'])).code, 0);
    }
    assertNoVmLeft(vms().stateRoot);
  });

  it('docker exec, stop, kill and rm -f', async () => {
    const run = (name: string, ...cmd: string[]) => docker.run(['run', '-d', '--name', name, '--runtime', 'mayu', '--network', 'none', 'mayu-example', ...cmd]);
    assert.equal((await run('c1', 'sleep', '600')).code, 0);
    const e = await docker.run(['exec', 'c1', 'sh', '-c', 'echo in-exec; exit 4']);
    assert.deepEqual([e.code, e.stdout], [4, 'in-exec\n'], e.stderr);
    assert.equal((await docker.run(['stop', '-t', '1', 'c1'])).code, 0);
    assert.equal((await docker.run(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'c1'])).stdout.trim(), 'exited 137');
    assert.equal((await run('c2', 'sh', '-c', 'trap "exit 9" USR1; while :; do sleep 0.2; done')).code, 0);
    await sleep(500);
    assert.equal((await docker.run(['kill', '--signal', 'USR1', 'c2'])).code, 0);
    assert.equal((await docker.run(['wait', 'c2'])).stdout.trim(), '9');
    assert.equal((await run('c3', 'sleep', '600')).code, 0);
    const rm = await docker.run(['rm', '-f', 'c1', 'c2', 'c3']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await docker.run(['ps', '-aq'])).stdout, '');
    assertNoVmLeft(vms().stateRoot);
  });
});
