import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultSpec, mountsUnder, readRecord, sandboxDir } from '@mayu/runtime';
import { useGuestFactory } from '../helpers/guest-factory.js';
import { processesMentioning } from '../helpers/leftovers.js';
import { finished, runMayu, startMayu } from '../helpers/run-cli.js';
import { testImage } from '../helpers/test-image.js';

/** Fields of /proc/PID/status. */
function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const [k, v] = line.split(':\t');
    if (k && v !== undefined) out[k] = v.trim();
  }
  return out;
}

/** Capability names in a CapBnd-style hex mask (the ones mayu cares about). */
const CAP_BITS: Record<string, number> = {
  chown: 0,
  dac_override: 1,
  dac_read_search: 2,
  fowner: 3,
  fsetid: 4,
  kill: 5,
  setgid: 6,
  setuid: 7,
  net_admin: 12,
  sys_ptrace: 19,
  sys_admin: 21,
  mknod: 27,
};
function capsIn(mask: string): string[] {
  const bits = BigInt(`0x${mask}`);
  return Object.entries(CAP_BITS)
    .filter(([, bit]) => (bits >> BigInt(bit)) & 1n)
    .map(([name]) => name);
}

/** Polls until `fn` returns something truthy. */
async function until<T>(what: string, fn: () => T | undefined | false | null, ms = 60_000): Promise<T> {
  for (const deadline = Date.now() + ms; ; await sleep(100)) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/**
 * The isolation boundary on real VMs: each test performs an attack from the
 * container (the guest) or the image and checks that it fails harmlessly on
 * the host.
 */
describe('isolation: a hostile guest or image cannot touch the host (real VMs)', () => {
  const vms = useGuestFactory();

  it('guest mknod, setuid and chown on a read-write volume never become real on the host; no device nodes anywhere', async () => {
    const vol = join(vms().stateRoot, 'home-volume');
    mkdirSync(vol);
    writeFileSync(join(vol, 'users-file'), 'mine\n');
    const script = [
      'mknod /vol/disk b 8 0 && echo mknod-vol-ok',
      'cp /bin/busybox /vol/shell && chmod 4755 /vol/shell && echo suid-ok',
      'chown 0:0 /vol/users-file && chmod 4777 /vol/users-file && echo chown-ok',
      'ln -s /etc/shadow /vol/link && echo link-ok',
      'ls -ln /vol/disk /vol/shell',
      'mknod /tmp/disk b 8 0 2>/dev/null || echo mknod-rootfs-refused',
    ].join('; ');
    const r = await runMayu(['run', '--rm', '-v', `${vol}:/vol`, '--config', vms().configFile(), (await testImage()).layout, '--', 'sh', '-c', script]);
    assert.equal(r.code, 0, r.stderr);
    // The guest sees what it asked for...
    assert.match(r.stdout, /mknod-vol-ok\nsuid-ok\nchown-ok\nlink-ok\n/);
    assert.match(r.stdout, /^b.* 8, +0 .*\/vol\/disk$/m);
    assert.match(r.stdout, /^-rwsr-xr-x .*\/vol\/shell$/m);
    // ...and the host has plain files: no device, no setuid bit, no symlink.
    for (const name of ['disk', 'shell', 'link']) {
      const st = lstatSync(join(vol, name));
      assert.ok(st.isFile(), `${name} is a plain file on the host`);
      assert.equal(st.mode & 0o7777, 0o600, `${name} is 0600 on the host (got ${(st.mode & 0o7777).toString(8)})`);
    }
    assert.equal(lstatSync(join(vol, 'users-file')).mode & 0o7777, 0o644, 'the host file keeps its mode');
    // A device node cannot be made in the root filesystem either (QEMU has no CAP_MKNOD).
    assert.match(r.stdout, /mknod-rootfs-refused/);
  });

  it('QEMU runs with a bounded capability set, no_new_privs and seccomp; without 9p it drops to an unprivileged uid', async () => {
    const image = (await testImage()).layout;
    const check = async (toml: string): Promise<Record<string, string>> => {
      const config = vms().configFile(toml);
      const id = `caps-${Math.random().toString(16).slice(2, 8)}`;
      const r = await runMayu(['run', '-d', '--name', id, '--config', config, image, '--', 'sleep', '600']);
      assert.equal(r.code, 0, r.stderr);
      const record = readRecord(sandboxDir(vms().stateRoot, id));
      const status = procStatus(record?.pid as number);
      const removed = await runMayu(['rm', '-f', '--config', config, id]);
      assert.equal(removed.code, 0, removed.stderr);
      return status;
    };
    const nineP = await check('');
    assert.deepEqual(capsIn(nineP.CapBnd ?? '0'), ['chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid']);
    assert.equal(nineP.NoNewPrivs, '1');
    assert.equal(nineP.Seccomp, '2');
    assert.equal(nineP.Uid?.split('\t')[0], '0', 'with 9p, QEMU serves files and stays root (capabilities bounded)');
    const block = await check('[sandbox]\nshared_fs = "none"\ncontainer_rootfs = "block"');
    assert.ok(Number(block.Uid?.split('\t')[0]) >= 2_000_000_000, `QEMU dropped to an unprivileged uid (${block.Uid})`);
    assert.deepEqual(capsIn(block.CapEff ?? '0'), [], 'and holds no capability');
    assert.equal(block.NoNewPrivs, '1');
  });

  it('a container never writes into the image: its writes go to a layer of its own, bounded in size; --read-only is read-only', async () => {
    const { layout, rootfs } = await testImage();
    const config = vms().configFile('[runtime]\ncontainer_layer_size = 32');
    const r = await runMayu([
      'run',
      '--rm',
      '--config',
      config,
      layout,
      '--',
      'sh',
      '-c',
      'echo changed > /etc/motd-new; echo x >> /bin/busybox; dd if=/dev/zero of=/fill bs=1M count=64 2>/dev/null; stat -c %s /fill',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const filled = Number(r.stdout.trim());
    assert.ok(filled > 16 << 20 && filled <= 32 << 20, `filling the writable layer stops at container_layer_size (wrote ${filled} bytes of 64 MiB)`);
    assert.throws(() => lstatSync(join(rootfs, 'etc/motd-new')), { code: 'ENOENT' });
    assert.ok(!readFileSync(join(rootfs, 'bin/busybox')).subarray(-2).equals(Buffer.from('x\n')), 'the cached image is unchanged');
    const ro = await runMayu(['run', '--rm', '--read-only', '--config', config, layout, '--', 'sh', '-c', 'touch /x 2>&1; echo rc=$?']);
    assert.match(ro.stdout, /Read-only file system\nrc=1\n$/);
  });

  it('confines the container as its spec says: seccomp (a denied syscall fails), capabilities, no_new_privs, masked and read-only paths, rlimits', async () => {
    const { rootfs } = await testImage();
    const probe =
      'uname -r; echo uname=$?; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname; ulimit -n';
    const r = await runMayu(['run', '--rm', '--config', vms().configFile(), rootfs, '--', 'sh', '-c', `{ ${probe}; } 2>&1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^6\.1\.\d+\nuname=0\n/);
    assert.match(r.stdout, /CapEff:\t00000000a80425fb\n/, "Docker's default capabilities");
    assert.match(r.stdout, /NoNewPrivs:\t1\nSeccomp:\t2\n/, 'the default seccomp profile is in force');
    assert.match(r.stdout, /Seccomp:\t2\n0\n0\n/, '/proc/timer_list and /sys/firmware are masked');
    assert.match(r.stdout, /Read-only file system/, '/proc/sys is read-only');
    assert.match(r.stdout, /\n1048576\n$/);
    // A bundle whose profile denies mkdir(2): the syscall fails inside the VM, the rest works.
    const bundle = join(vms().stateRoot, 'bundle');
    mkdirSync(bundle);
    const spec = defaultSpec(
      rootfs,
      { entrypoint: [], cmd: [], env: [], workingDir: '', user: '' },
      { args: ['sh', '-c', 'mkdir /dev/shm/d 2>&1; echo mkdir=$?; touch /dev/shm/f; echo touch=$?'], env: [], terminal: false, volumes: [], readOnlyRootfs: true, seccomp: 'unconfined' },
    );
    (spec.linux as Record<string, unknown>).seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    };
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    const denied = await runMayu(['run', '--bundle', bundle, '--config', vms().configFile(), 'seccomp-denied']);
    assert.equal(denied.code, 0, denied.stderr);
    assert.match(denied.stdout, /Operation not permitted\nmkdir=1\ntouch=0\n$/, denied.stderr);
    await runMayu(['rm', '--config', vms().configFile(), 'seccomp-denied']);
  });

  it('a mayu run killed with SIGKILL leaves no VM; its host mounts are cleaned up and ps -a says what happened', async () => {
    const config = vms().configFile();
    const child = startMayu(['run', '--name', 'killed', '--config', config, (await testImage()).layout, '--', 'sh', '-c', 'echo ready; sleep 600']);
    const done = finished(child);
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    await until('the container to run', () => out.includes('ready'));
    const stateDir = sandboxDir(vms().stateRoot, 'killed');
    const qemu = readRecord(stateDir)?.pid as number;
    assert.ok(mountsUnder(stateDir).length > 0);
    child.kill('SIGKILL');
    await done;
    await until('QEMU to die with its owner', () => !processesMentioning(stateDir).some((p) => p.pid === qemu), 10_000);
    const ps = await runMayu(['ps', '-a', '--json', '--config', config]);
    const row = (JSON.parse(ps.stdout) as { id: string; status: string; error?: string }[]).find((x) => x.id === 'killed');
    assert.equal(row?.status, 'failed');
    assert.match(row?.error ?? '', /died before the container ended; its VM and host mounts were removed/);
    assert.deepEqual(mountsUnder(vms().stateRoot), [], 'no host mount is left');
    assert.deepEqual(readdirSync(join(vms().stateRoot, 'sandboxes')), []);
    assert.equal((await runMayu(['rm', '--config', config, 'killed'])).code, 0);
  });

  it("the VM's QMP, console, log and agent sockets refuse any other user", async () => {
    const config = vms().configFile();
    const r = await runMayu(['run', '-d', '--name', 'sockets', '--config', config, (await testImage()).layout, '--', 'sleep', '600']);
    assert.equal(r.code, 0, r.stderr);
    const dir = sandboxDir(vms().stateRoot, 'sockets');
    const sockets = readdirSync(dir).filter((f) => f.endsWith('.sock'));
    assert.deepEqual(sockets.sort(), ['agent-grpc.sock', 'agent.sock', 'console.sock', 'log.sock', 'qmp.sock']);
    for (const s of sockets) {
      const attempt = spawnSync(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          process.execPath,
          '-e',
          `require('net').connect(${JSON.stringify(join(dir, s))}).on('connect',()=>{console.log('connected');process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(1)})`,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(attempt.stdout.trim(), 'EACCES', `${s}: ${attempt.stdout}${attempt.stderr}`);
    }
    assert.equal((await runMayu(['rm', '-f', '--config', config, 'sockets'])).code, 0);
  });
});
