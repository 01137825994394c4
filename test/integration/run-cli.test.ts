import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { useGuestFactory } from '../helpers/guest-factory.js';
import { entriesOf as entries, processesMentioning } from '../helpers/leftovers.js';
import { finished, runMayu, startMayu } from '../helpers/run-cli.js';
import { testImage } from '../helpers/test-image.js';

describe('mayu run / exec / ps / kill / logs / rm (real VMs)', () => {
  const vms = useGuestFactory();

  it("runs an OCI archive: stdout and stderr apart, the exit status is the container's, --rm leaves nothing", async () => {
    const { archive } = await testImage();
    const r = await runMayu(['run', '--rm', '--config', vms().configFile(), archive, '--', 'sh', '-c', 'echo to-out; echo to-err >&2; uname -r; exit 7']);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stdout, /^to-out\n6\.1\.\d+\n$/);
    assert.equal(r.stderr, 'to-err\n');
    assert.deepEqual(entries(join(vms().stateRoot, 'runs')), []);
    assert.deepEqual(entries(join(vms().stateRoot, 'sandboxes')), []);
  });

  it('applies the image: its layers (with a whiteout), env and command', async () => {
    const { layout } = await testImage();
    const r = await runMayu(['run', '--rm', '--config', vms().configFile(), layout, '--', 'sh', '-c', 'cat /etc/layer2; ls /etc/motd 2>&1; echo $IMAGE']);
    assert.equal(r.stdout, 'from the second layer\nls: /etc/motd: No such file or directory\nmayu-example\n');
  });

  it('-i passes stdin, and its end is EOF for the container', async () => {
    const r = await runMayu(['run', '--rm', '-i', '--config', vms().configFile(), (await testImage()).layout, '--', 'sh', '-c', 'cat; echo "<eof>"'], { input: 'piped\ndata\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'piped\ndata\n<eof>\n');
  });

  it('forwards SIGTERM to the container', async () => {
    const child = startMayu([
      'run',
      '--rm',
      '--config',
      vms().configFile(),
      (await testImage()).layout,
      '--',
      'sh',
      '-c',
      'trap "echo got TERM; exit 5" TERM; echo ready; while :; do sleep 0.1; done',
    ]);
    const done = finished(child);
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    while (!out.includes('ready')) await sleep(100);
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stdout, 'ready\ngot TERM\n');
  });

  it('sets env, working directory, user and group, and a terminal', async () => {
    const config = vms().configFile();
    const r = await runMayu([
      'run',
      '--rm',
      '-e',
      'GREETING=hi there',
      '-w',
      '/tmp',
      '-u',
      'nobody:65534',
      '--config',
      config,
      (await testImage()).layout,
      '--',
      'sh',
      '-c',
      'echo "$GREETING"; pwd; id -u; id -g',
    ]);
    assert.equal(r.stdout, 'hi there\n/tmp\n65534\n65534\n', r.stderr);
    const t = await runMayu(['run', '--rm', '-t', '--config', config, (await testImage()).layout, '--', 'sh', '-c', 'tty; stty size']);
    assert.match(t.stdout, /^\/dev\/pts\/\d+\r\n24 80\r\n$/);
  });

  it('mounts volumes read-only and read-write, and a read-only rootfs', async () => {
    const host = join(vms().stateRoot, 'vol');
    mkdirSync(host);
    writeFileSync(join(host, 'in'), 'from the host\n');
    const config = vms().configFile();
    const image = (await testImage()).layout;
    const ro = await runMayu(['run', '--rm', '-v', `${host}:/data:ro`, '--config', config, image, '--', 'sh', '-c', 'cat /data/in; echo x > /data/new || echo refused']);
    assert.match(ro.stdout, /^from the host\nrefused\n$/);
    const rw = await runMayu(['run', '--rm', '--read-only', '-v', `${host}:/data`, '--config', config, image, '--', 'sh', '-c', 'echo back > /data/out; touch /rootfs-file || echo ro-root']);
    assert.equal(rw.stdout, 'ro-root\n');
    assert.equal(readFileSync(join(host, 'out'), 'utf8'), 'back\n');
  });

  it('runs from a block device (erofs + overlay) as well as over 9p', async () => {
    const image = (await testImage()).layout;
    const block = await runMayu([
      'run',
      '--rm',
      '--config',
      vms().configFile('[sandbox]\ncontainer_rootfs = "block"'),
      image,
      '--',
      'sh',
      '-c',
      'grep " / " /proc/mounts; echo w > /written && cat /written',
    ]);
    assert.match(block.stdout, /^overlay \/ overlay .*lowerdir=\/run\/mayu\/containers\/[^/]+\/lower.*\nw\n$/);
    const shared = await runMayu(['run', '--rm', '--config', vms().configFile(), image, '--', 'grep', ' / ', '/proc/mounts']);
    assert.match(shared.stdout, /^mayushared \/ 9p /);
  });

  it("-m and --cpus (Docker's): the container holds 700 MiB within its 1 GiB limit in a VM sized for it, sees the CPUs, and its cgroup has exactly the limits; without them, the default VM cannot hold it", async () => {
    const image = (await testImage()).layout;
    const script =
      'dd if=/dev/zero of=/dev/null bs=700M count=1 2>&1 | tail -n1; nproc; cat "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max" "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/cpu.max"';
    const sized = await runMayu(['run', '--rm', '-m', '1g', '--cpus', '2', '--config', vms().configFile(), image, '--', 'sh', '-c', script]);
    assert.equal(sized.code, 0, sized.stderr);
    const [copied, cpus, memoryMax, cpuMax] = sized.stdout.trim().split('\n');
    assert.match(copied ?? '', /^1\+0 records out/, `dd held a 700 MiB buffer: ${sized.stdout}`);
    assert.ok(Number(cpus) >= 2, `nproc ${cpus}`);
    assert.equal(memoryMax, String(1024 ** 3), "the container's cgroup has exactly its memory limit");
    assert.equal(cpuMax, '200000 100000', 'and its CPU limit');
    const unsized = await runMayu(['run', '--rm', '--config', vms().configFile(), image, '--', 'sh', '-c', 'dd if=/dev/zero of=/dev/null bs=700M count=1']);
    assert.notEqual(unsized.code, 0, 'the default 512 MiB VM cannot hold it');
    assert.equal((await runMayu(['run', '--rm', '-m', 'lots', '--config', vms().configFile(), image, '--', 'true'])).code, 125, 'a bad size is refused');
  });

  it('detached: ps, exec, logs, kill and rm', async () => {
    const config = vms().configFile();
    const d = await runMayu(['run', '-d', '--name', 'svc', '--config', config, (await testImage()).layout, '--', 'sh', '-c', 'echo started; echo warn >&2; exec sleep 600']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, 'svc\n');
    const ps = JSON.parse((await runMayu(['ps', '--json', '--config', config])).stdout) as { id: string; status: string }[];
    assert.deepEqual(
      ps.map((p) => [p.id, p.status]),
      [['svc', 'running']],
    );
    const e = await runMayu(['exec', '--config', config, 'svc', '--', 'sh', '-c', 'echo in-exec; exit 3']);
    assert.deepEqual([e.code, e.stdout], [3, 'in-exec\n']);
    const logs = await runMayu(['logs', '--config', config, 'svc']);
    assert.deepEqual([logs.stdout, logs.stderr], ['started\n', 'warn\n']);
    assert.equal((await runMayu(['rm', '--config', config, 'svc'])).code, 125, 'a running container needs --force');
    assert.equal((await runMayu(['kill', '--config', config, 'svc', 'KILL'])).code, 0);
    let status = '';
    for (let i = 0; i < 100 && !status.startsWith('exited'); i++) {
      await sleep(200);
      status = (JSON.parse((await runMayu(['ps', '-a', '--json', '--config', config])).stdout) as { status: string }[])[0]?.status ?? '';
    }
    assert.equal(status, 'exited (137)');
    assert.deepEqual(processesMentioning(join(vms().stateRoot, 'sandboxes')), [], 'the monitor removed the VM');
    assert.equal((await runMayu(['rm', '--config', config, 'svc'])).code, 0);
    assert.deepEqual(entries(join(vms().stateRoot, 'runs')), []);
  });

  it('a detached container whose VM dies: ps -a says failed and why (QEMU killed by SIGKILL), and rm cleans up', async () => {
    const config = vms().configFile();
    assert.equal((await runMayu(['run', '-d', '--name', 'doomed', '--config', config, (await testImage()).layout, '--', 'sleep', '600'])).code, 0);
    const [qemu] = processesMentioning(join(vms().stateRoot, 'sandboxes')).filter((p) => p.cmdline.includes('qemu-system'));
    assert.ok(qemu, 'its VM runs');
    process.kill(qemu.pid, 'SIGKILL');
    let row: { status: string; error?: string } | undefined;
    for (let i = 0; i < 100 && row?.status !== 'failed'; i++) {
      await sleep(200);
      row = (JSON.parse((await runMayu(['ps', '-a', '--json', '--config', config])).stdout) as { status: string; error?: string }[])[0];
    }
    assert.equal(row?.status, 'failed');
    assert.equal(row?.error, 'the VM died before the container exited: the hypervisor exited (code null, signal SIGKILL)');
    const text = await runMayu(['ps', '-a', '--config', config]);
    assert.match(text.stdout, /^doomed +failed .*\n {2}why: the VM died before the container exited: the hypervisor exited \(code null, signal SIGKILL\)\n$/m);
    assert.equal((await runMayu(['rm', '--config', config, 'doomed'])).code, 0);
    assert.deepEqual(entries(join(vms().stateRoot, 'runs')), []);
    assert.deepEqual(processesMentioning(vms().stateRoot), []);
  });

  it('rm --force stops a running detached container', async () => {
    const config = vms().configFile();
    assert.equal((await runMayu(['run', '-d', '--name', 'victim', '--config', config, (await testImage()).layout, '--', 'sleep', '600'])).code, 0);
    assert.equal((await runMayu(['rm', '--force', '--config', config, 'victim'])).code, 0);
    assert.deepEqual(entries(join(vms().stateRoot, 'runs')), []);
    assert.deepEqual(processesMentioning(vms().stateRoot), []);
  });

  it('a malformed OCI bundle is rejected naming each field, and nothing is left', async () => {
    const bundle = join(vms().stateRoot, 'bundle');
    mkdirSync(bundle);
    writeFileSync(
      join(bundle, 'config.json'),
      JSON.stringify({
        ociVersion: '1.0.2',
        process: { args: [], cwd: 'x' },
        root: { path: (await testImage()).rootfs },
        windows: {},
        linux: { namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type })) },
      }),
    );
    const r = await runMayu(['run', '--bundle', bundle, '--config', vms().configFile(), 'broken']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /invalid OCI spec: .*\/process\/args: must NOT have fewer than 1 items \(got \[\]\)/);
    assert.match(r.stderr, /\/process\/cwd: must match pattern "\^\/" \(got "x"\)/);
    // Another platform's section is ignored, as runc ignores it (the runtime-spec: unknown properties are ignored), and said in the log.
    assert.match(r.stderr, /"field":"\/windows","msg":"unknown spec property ignored, as the runtime-spec says"/);
    assert.doesNotMatch(r.stderr, /\/windows: is not supported/);
    assert.deepEqual(entries(join(vms().stateRoot, 'runs')), []);
    assert.deepEqual(entries(join(vms().stateRoot, 'sandboxes')), []);
  });

  it("a bundle asking for the host's network namespace (none of its own) is refused naming the field, before a VM boots", async () => {
    const bundle = join(vms().stateRoot, 'hostnet');
    mkdirSync(bundle);
    const spec = {
      ociVersion: '1.0.2',
      process: { args: ['true'], cwd: '/' },
      root: { path: (await testImage()).rootfs, readonly: true },
      linux: { namespaces: ['pid', 'ipc', 'uts', 'mount'].map((type) => ({ type })) },
    };
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    const r = await runMayu(['run', '--bundle', bundle, '--config', vms().configFile(), 'hostnet']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /\/linux\/namespaces: has no network namespace: the container would share the host's \(Kubernetes hostNetwork\)/);
    assert.deepEqual(entries(join(vms().stateRoot, 'sandboxes')), [], 'no VM was booted for it');
  });

  it('a command that does not exist exits 127', async () => {
    const r = await runMayu(['run', '--rm', '--config', vms().configFile(), (await testImage()).layout, '--', 'no-such-command']);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /executable file `no-such-command` not found/);
  });
});
