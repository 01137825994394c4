import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mountsUnder } from '@mayu/runtime';
import { useGuestFactory } from '../helpers/guest-factory.js';
import { entriesOf as entries, processesMentioning } from '../helpers/leftovers.js';
import { CONSOLE_RECEIVER, makeBundle, RuntimeCli } from '../helpers/oci-runtime.js';
import { testImage } from '../helpers/test-image.js';

describe('mayu-runtime: the runc command line, driven as engines drive it (real VMs)', () => {
  const vms = useGuestFactory();
  let rt: RuntimeCli;
  let work: string;
  beforeEach(() => {
    rt = new RuntimeCli(join(vms().stateRoot, 'rt'), vms().configFile());
    work = join(vms().stateRoot, 'work');
  });

  /** Nothing of a container is left: no state, no VM, no process, no mount. */
  function assertNothingLeft(): void {
    assert.deepEqual(entries(rt.root), []);
    assert.deepEqual(entries(join(vms().stateRoot, 'sandboxes')), []);
    assert.deepEqual(
      processesMentioning(vms().stateRoot).filter((p) => !p.cmdline.includes('subreaper')),
      [],
    );
    assert.deepEqual(mountsUnder(vms().stateRoot), []);
  }

  it("create / state / start / exit / delete: the pid file names the process whose status is the container's; stdio is what create was given", async () => {
    const bundle = makeBundle(join(work, 'b1'), (await testImage()).rootfs, ['sh', '-c', 'echo hello; echo oops >&2; uname -r; cat; hostname; exit 7'], (s) => {
      s.annotations = { 'org.example/k': 'v' };
    });
    const c = await rt.create('c1', bundle, { input: 'piped\n', dir: work });
    assert.equal(c.code, 0, c.stderrOfCommand());
    assert.ok(c.pid && c.pid > 1);
    const created = await rt.state('c1');
    assert.deepEqual([created.status, created.pid, created.bundle, created.annotations], ['created', c.pid, bundle, { 'org.example/k': 'v' }]);
    assert.equal(c.stdout(), '', 'nothing runs before start');
    assert.equal((await rt.run(['start', 'c1'])).code, 0);
    assert.equal(await c.exited, 7);
    assert.match(c.stdout(), /^hello\n6\.1\.\d+\npiped\nrunc\n$/, "the guest kernel, the stdin create had, the spec's hostname");
    assert.equal(c.stderr(), 'oops\n');
    assert.equal((await rt.state('c1')).status, 'stopped');
    assert.deepEqual((await rt.run(['start', 'c1'])).stderr, 'cannot start a container that has stopped\n');
    assert.equal((await rt.run(['delete', 'c1'])).code, 0);
    assert.equal((await rt.run(['state', 'c1'])).stderr, 'container does not exist\n');
    assertNothingLeft();
  });

  it("a user namespace of its own (podman --userns, Kubernetes hostUsers: false): root inside is the mapped id, the rootfs owned by the mapped ids is root's there, what it writes is the mapped id's on the host, and nothing is left", async () => {
    const rootfs = join(work, 'rootfs-mapped');
    mkdirSync(work, { recursive: true });
    cpSync((await testImage()).rootfs, rootfs, { recursive: true, verbatimSymlinks: true });
    // As an engine prepares an image for a mapped container: owned by the ids its root maps to.
    execFileSync('chown', ['-R', '-h', '100000:100000', rootfs]);
    const bundle = makeBundle(join(work, 'bu'), rootfs, ['sh', '-c', 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; stat -c "%u:%g" /; echo data > /written'], (s) => {
      const linux = s.linux as { namespaces: { type: string }[]; uidMappings?: unknown; gidMappings?: unknown };
      linux.namespaces.push({ type: 'user' });
      linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.root = { path: 'rootfs', readonly: false };
    });
    const c = await rt.create('cu', bundle, { dir: work });
    assert.equal(c.code, 0, c.stderrOfCommand());
    assert.equal((await rt.run(['start', 'cu'])).code, 0);
    assert.equal(await c.exited, 0, c.stderr());
    const [uid, gid, uidMap, gidMap, rootOwner] = c.stdout().trim().split('\n');
    assert.deepEqual([uid, gid, rootOwner], ['0', '0', '0:0'], "root inside, and the rootfs is root's there");
    assert.deepEqual(
      [uidMap?.trim().split(/\s+/), gidMap?.trim().split(/\s+/)],
      [
        ['0', '100000', '65536'],
        ['0', '100000', '65536'],
      ],
      'the mapping, as the kernel shows it',
    );
    const written = statSync(join(bundle, 'rootfs/written'));
    assert.deepEqual([written.uid, written.gid], [100000, 100000], "what it wrote is the mapped ids' on the host");
    assert.equal((await rt.run(['delete', 'cu'])).code, 0);
    assertNothingLeft();
  });

  it("a terminal: its master goes to --console-socket; the container's tty has the spec's size, the engine's resize reaches it, typed input is echoed and read", async () => {
    const bundle = makeBundle(join(work, 'bt'), (await testImage()).rootfs, ['sh', '-c', 'tty; stty size; echo ready; read line; stty size; echo "got $line"; exit 2'], (s) => {
      Object.assign(s.process as object, { terminal: true, consoleSize: { height: 30, width: 100 } });
    });
    const socket = join(work, 'console.sock');
    const out = join(work, 'console.out');
    mkdirSync(work, { recursive: true });
    const receiver = spawn('python3', [CONSOLE_RECEIVER, socket, out, '--on', 'ready', '40', '120', 'typed\\n'], { stdio: 'inherit' });
    const received = new Promise((resolve) => receiver.once('close', resolve));
    while (!existsSync(socket)) await sleep(50);
    const c = await rt.create('ct', bundle, { dir: work, extra: ['--console-socket', socket] });
    assert.equal(c.code, 0, c.stderrOfCommand());
    assert.equal((await rt.run(['start', 'ct'])).code, 0);
    assert.equal(await c.exited, 2);
    assert.equal(await received, 0);
    assert.match(readFileSync(out, 'utf8'), /^\/dev\/pts\/\d+\r\n30 100\r\nready\r\ntyped\r\n40 120\r\ngot typed\r\n$/);
    assert.equal(c.stdout(), '', 'with a terminal, nothing goes to the stdio create had');
    assert.equal((await rt.run(['create', '--bundle', bundle, 'no-socket'])).stderr, 'cannot allocate tty if runc will detach without setting console socket\n');
    assert.equal((await rt.run(['delete', 'ct'])).code, 0);
    assertNothingLeft();
  });

  it('the conformance categories in one container: hostname, mounts, user, capabilities, rlimits, oom_score_adj, readonly and masked paths, sysctl, seccomp, devices, cgroups', async () => {
    const hostDir = join(work, 'host-data');
    mkdirSync(hostDir, { recursive: true });
    writeFileSync(join(hostDir, 'f'), 'from the host');
    const bundle = makeBundle(join(work, 'bc'), (await testImage()).rootfs, ['sh', '/check.sh'], (s) => {
      const p = s.process as Record<string, unknown>;
      p.user = { uid: 1000, gid: 1000, additionalGids: [5, 6] };
      const caps = ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];
      p.capabilities = { bounding: caps, effective: caps, permitted: caps };
      p.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 456 }];
      p.oomScoreAdj = 500;
      s.hostname = 'conformance';
      s.mounts = [
        ...(s.mounts as object[]),
        { destination: '/data', type: 'bind', source: hostDir, options: ['rbind', 'ro'] },
        { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
      ];
      s.root = { path: 'rootfs', readonly: false };
      const linux = s.linux as Record<string, unknown>;
      linux.readonlyPaths = [...(linux.readonlyPaths as string[]), '/ro-dir'];
      linux.maskedPaths = [...(linux.maskedPaths as string[]), '/masked-dir'];
      linux.sysctl = { 'kernel.shm_rmid_forced': '1' };
      linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
      // The conformance suite's devices: numbers no driver answers, and a fifo.
      linux.devices = [
        { path: '/dev/test1', type: 'c', major: 10, minor: 666, fileMode: 0o666, uid: 0, gid: 0 },
        { path: '/dev/test2', type: 'b', major: 8, minor: 666, fileMode: 0o666, uid: 0, gid: 0 },
        { path: '/dev/test3', type: 'p', fileMode: 0o640, uid: 1000, gid: 1000 },
      ];
      // A cgroup namespace, as podman and Docker give on cgroup v2: /sys/fs/cgroup is the container's own.
      linux.namespaces = [...(linux.namespaces as object[]), { type: 'cgroup' }];
      linux.resources = {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 10, minor: 666, access: 'rwm' },
        ],
        memory: { limit: 64 * 1024 * 1024 },
        pids: { limit: 50 },
      };
    });
    const root = join(bundle, 'rootfs');
    for (const d of ['ro-dir', 'rw-dir', 'masked-dir']) mkdirSync(join(root, d), { mode: 0o777 });
    for (const d of ['ro-dir', 'rw-dir', 'masked-dir']) chmodSync(join(root, d), 0o777);
    writeFileSync(join(root, 'masked-dir/secret'), 'x');
    writeFileSync(
      join(root, 'check.sh'),
      [
        'echo "hostname=$(hostname)"',
        'echo "data=$(cat /data/f)"',
        'touch /data/x 2>/dev/null && echo data-rw || echo data-ro',
        'echo "scratch=$(grep " /scratch " /proc/mounts | cut -d" " -f3)"',
        'echo "id=$(id -u):$(id -g):$(id -G)"',
        'echo "capbnd=$(grep CapBnd /proc/self/status | cut -f2)"',
        'echo "nofile=$(ulimit -Sn)/$(ulimit -Hn)"',
        'echo "oom=$(cat /proc/self/oom_score_adj)"',
        'touch /rw-dir/x && echo rw-writable',
        'touch /ro-dir/x 2>/dev/null && echo ro-writable || echo ro-readonly',
        'echo "masked=$(ls -A /masked-dir | wc -l)"',
        'echo "sysctl=$(cat /proc/sys/kernel/shm_rmid_forced)"',
        'mkdir /rw-dir/d 2>/dev/null && echo mkdir-allowed || echo mkdir-denied',
        'stat -c "%n %F %t:%T %a %u:%g" /dev/test1 /dev/test2 /dev/test3',
        // Allowed by the device cgroup, no driver: ENXIO; not allowed: EPERM.
        'cat /dev/test1 2>&1 | sed "s/.*: //"',
        'cat /dev/test2 2>&1 | sed "s/.*: //"',
        'echo "memory.max=$(cat /sys/fs/cgroup/memory.max)"',
        'echo "pids.max=$(cat /sys/fs/cgroup/pids.max)"',
      ].join('\n'),
    );
    const c = await rt.create('cc', bundle, { dir: work });
    assert.equal(c.code, 0, c.stderrOfCommand());
    assert.equal((await rt.run(['start', 'cc'])).code, 0);
    assert.equal(await c.exited, 0, c.stderr());
    assert.equal(
      c.stdout(),
      [
        'hostname=conformance',
        'data=from the host',
        'data-ro',
        'scratch=tmpfs',
        'id=1000:1000:1000 5 6',
        'capbnd=0000000000000420',
        'nofile=123/456',
        'oom=500',
        'rw-writable',
        'ro-readonly',
        'masked=0',
        'sysctl=1',
        'mkdir-denied',
        '/dev/test1 character special file a:29a 666 0:0',
        '/dev/test2 block special file 8:29a 666 0:0',
        '/dev/test3 fifo 0:0 640 1000:1000',
        'No such device or address',
        'Operation not permitted',
        'memory.max=67108864',
        'pids.max=50',
        '',
      ].join('\n'),
      c.stderr(),
    );
    assert.equal((await rt.run(['delete', 'cc'])).code, 0);
    assertNothingLeft();
  });

  it('kill: signal names and numbers reach the container; its status is 128+N when it dies of one; kill, start and delete say what runc says', async () => {
    const bundle = makeBundle(join(work, 'b2'), (await testImage()).rootfs, ['sh', '-c', 'trap "echo got USR1" USR1; echo ready; while :; do sleep 0.1; done']);
    const c = await rt.create('c2', bundle, { dir: work });
    assert.equal(c.code, 0, c.stderrOfCommand());
    assert.equal((await rt.run(['start', 'c2'])).code, 0);
    while (!c.stdout().includes('ready')) await sleep(100);
    assert.equal((await rt.run(['start', 'c2'])).stderr, 'cannot start an already running container\n');
    assert.equal((await rt.run(['delete', 'c2'])).stderr, 'cannot delete container c2 that is not stopped: running\n');
    assert.equal((await rt.run(['kill', 'c2', 'SIGUSR1'])).code, 0);
    while (!c.stdout().includes('got USR1')) await sleep(100);
    assert.equal((await rt.run(['kill', 'c2', 'NOPE'])).stderr, 'unknown signal "NOPE"\n');
    assert.equal((await rt.run(['kill', 'c2', '9'])).code, 0);
    assert.equal(await c.exited, 137);
    assert.equal((await rt.run(['kill', 'c2', 'KILL'])).stderr, 'container not running\n');
    assert.equal((await rt.run(['delete', 'c2'])).code, 0);
    assertNothingLeft();
  });

  it("update (docker update, podman update, cri-o's resize): through the VM's holder, the VM's vCPUs grow for a larger CPU quota and the container's cgroup gets the new limits; a stopped container is refused", async () => {
    const bundle = makeBundle(join(work, 'bu'), (await testImage()).rootfs, ['sleep', '600'], (s) => {
      (s.linux as Record<string, unknown>).resources = { memory: { limit: 64 * 2 ** 20 }, cpu: { quota: 100_000, period: 100_000 } };
    });
    const c = await rt.create('cu', bundle, { dir: work });
    assert.equal(c.code, 0, c.stderrOfCommand());
    assert.equal((await rt.run(['start', 'cu'])).code, 0);
    const inside = async (script: string): Promise<string> => {
      const r = await rt.run(['exec', 'cu', 'sh', '-c', script]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.equal(await inside('nproc'), '2', "the default vCPU and the quota's one");
    const update = await rt.run(['update', '--resources', '-', 'cu'], JSON.stringify({ memory: { limit: 128 * 2 ** 20 }, cpu: { quota: 300_000, period: 100_000 } }));
    assert.equal(update.code, 0, update.stderr);
    assert.equal(await inside('nproc'), '4', 'the VM grew by two vCPUs');
    const cgroup = 'cat "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max" "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/cpu.max"';
    assert.equal(await inside(cgroup), `${128 * 2 ** 20}\n300000 100000`);
    assert.equal((await rt.run(['kill', 'cu', 'KILL'])).code, 0);
    await c.exited;
    const refused = await rt.run(['update', '--resources', '-', 'cu'], '{}');
    assert.deepEqual([refused.code, refused.stderr], [1, 'container cu is not running\n']);
    assert.equal((await rt.run(['delete', 'cu'])).code, 0);
    assertNothingLeft();
  });

  it("exec: ID CMD in the foreground with its status; --process FILE --detach writes a PID that ends with the exec's status; ps lists both", async () => {
    const bundle = makeBundle(join(work, 'b3'), (await testImage()).rootfs, ['sleep', '600']);
    const c = await rt.create('c3', bundle, { dir: work });
    assert.equal(c.code, 0, c.stderrOfCommand());
    assert.equal((await rt.run(['start', 'c3'])).code, 0);
    const fg = await rt.run(['exec', '--env', 'X=42', '--cwd', '/tmp', 'c3', 'sh', '-c', 'echo "$X $(pwd)"; cat; exit 4'], 'in\n');
    assert.deepEqual([fg.code, fg.stdout], [4, '42 /tmp\nin\n'], fg.stderr);
    const processFile = join(work, 'exec.json');
    writeFileSync(processFile, JSON.stringify({ args: ['sh', '-c', 'echo detached; sleep 2; exit 3'], cwd: '/', env: ['PATH=/bin:/usr/bin'], user: { uid: 0, gid: 0 } }));
    const ex = await rt.execDetached('c3', processFile, work, 'ex1');
    assert.equal(ex.code, 0, ex.stderrOfCommand());
    assert.ok(ex.pid && ex.pid !== c.pid);
    const ps = await rt.run(['ps', '--format', 'json', 'c3']);
    assert.deepEqual(JSON.parse(ps.stdout), [c.pid, ex.pid], 'the holders of the container and of its detached exec');
    assert.equal(await ex.exited, 3);
    assert.equal(ex.stdout(), 'detached\n');
    assert.equal((await rt.run(['delete', '--force', 'c3'])).code, 0);
    assert.equal(await c.exited, 137);
    assertNothingLeft();
  });

  it("a detached exec's holder killed with SIGKILL: the container's holder ends the exec in the guest, and ps no longer lists it", async () => {
    const bundle = makeBundle(join(work, 'b11'), (await testImage()).rootfs, ['sleep', '600']);
    const c = await rt.create('c11', bundle, { dir: work });
    assert.equal(c.code, 0, c.stderrOfCommand());
    assert.equal((await rt.run(['start', 'c11'])).code, 0);
    const processFile = join(work, 'exec11.json');
    writeFileSync(processFile, JSON.stringify({ args: ['sleep', '601'], cwd: '/', env: ['PATH=/bin:/usr/bin'], user: { uid: 0, gid: 0 } }));
    const ex = await rt.execDetached('c11', processFile, work, 'ex11');
    assert.equal(ex.code, 0, ex.stderrOfCommand());
    const table = async (): Promise<string> => (await rt.run(['ps', 'c11'])).stdout;
    assert.match(await table(), /sleep 601/);
    process.kill(ex.pid as number, 'SIGKILL');
    assert.equal(await ex.exited, 137);
    const deadline = Date.now() + 10_000;
    while ((await table()).includes('sleep 601')) {
      assert.ok(Date.now() < deadline, 'the exec of the killed holder still runs in the guest');
      await sleep(250);
    }
    assert.deepEqual(JSON.parse((await rt.run(['ps', '--format', 'json', 'c11'])).stdout), [c.pid]);
    assert.equal((await rt.run(['delete', '--force', 'c11'])).code, 0);
    assert.equal(await c.exited, 137);
    assertNothingLeft();
  });

  it('hooks: prestart and createRuntime before start, poststart after, poststop at delete — on the host, each given the state', async () => {
    const log = join(work, 'hooks.log');
    const hook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `printf '%s ' ${name} >> ${log}; cat >> ${log}; echo >> ${log}`] });
    const bundle = makeBundle(join(work, 'b4'), (await testImage()).rootfs, ['true'], (s) => {
      s.hooks = { prestart: [hook('prestart')], createRuntime: [hook('createRuntime')], poststart: [hook('poststart')], poststop: [hook('poststop')] };
    });
    const c = await rt.create('c4', bundle, { dir: work });
    assert.equal(c.code, 0, c.stderrOfCommand());
    assert.equal((await rt.run(['start', 'c4'])).code, 0);
    assert.equal(await c.exited, 0);
    assert.equal((await rt.run(['delete', 'c4'])).code, 0);
    const lines = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const [phase, json] = [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)];
        const s = JSON.parse(json) as { id: string; status: string; pid: number; bundle: string };
        return [phase, s.id, s.status, s.pid === c.pid ? 'holder' : s.pid, s.bundle];
      });
    assert.deepEqual(lines, [
      ['prestart', 'c4', 'created', 'holder', bundle],
      ['createRuntime', 'c4', 'created', 'holder', bundle],
      ['poststart', 'c4', 'running', 'holder', bundle],
      ['poststop', 'c4', 'stopped', 0, bundle],
    ]);
    assertNothingLeft();
  });

  it('a failing createRuntime hook fails create naming it, and leaves nothing; a createContainer hook (it would run in the VM) is refused', async () => {
    const bundle = makeBundle(join(work, 'b5'), (await testImage()).rootfs, ['true'], (s) => {
      s.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'echo no way >&2; exit 2'] }] };
    });
    const c = await rt.create('c5', bundle, { dir: work });
    assert.equal(c.code, 1);
    assert.equal(c.stderrOfCommand(), 'createRuntime hook /bin/sh exited with status 2: no way\n');
    assertNothingLeft();
    const guestHook = makeBundle(join(work, 'b6'), (await testImage()).rootfs, ['true'], (s) => {
      s.hooks = { createContainer: [{ path: '/bin/true' }] };
    });
    const g = await rt.create('c6', guestHook, { dir: work });
    assert.equal(g.code, 1);
    assert.match(g.stderrOfCommand(), /hooks.createContainer: these hooks run in the container's namespaces, which are inside the VM/);
    assertNothingLeft();
  });

  it('a holder killed with SIGKILL: the container is stopped, its VM is gone, and delete removes what was left', async () => {
    const bundle = makeBundle(join(work, 'b7'), (await testImage()).rootfs, ['sleep', '600']);
    const c = await rt.create('c7', bundle, { dir: work });
    assert.equal(c.code, 0, c.stderrOfCommand());
    assert.equal((await rt.run(['start', 'c7'])).code, 0);
    process.kill(c.pid as number, 'SIGKILL');
    assert.equal(await c.exited, 137);
    assert.equal((await rt.state('c7')).status, 'stopped');
    assert.equal((await rt.run(['delete', 'c7'])).code, 0);
    assertNothingLeft();
  });

  it('root.path "." (the bundle is the rootfs, as the conformance suite makes it), and a bad spec is refused naming the field before a VM boots', async () => {
    const { rootfs } = await testImage();
    const bundle = makeBundle(join(work, 'b8'), rootfs, ['sh', '-c', 'echo dot-root'], (s) => (s.root = { path: '.', readonly: false }));
    // The rootfs copy is the bundle itself.
    const dotBundle = join(bundle, 'rootfs');
    writeFileSync(join(dotBundle, 'config.json'), readFileSync(join(bundle, 'config.json')));
    const c = await rt.create('c8', dotBundle, { dir: work });
    assert.equal(c.code, 0, c.stderrOfCommand());
    assert.equal((await rt.run(['start', 'c8'])).code, 0);
    assert.equal(await c.exited, 0);
    assert.equal(c.stdout(), 'dot-root\n');
    assert.equal((await rt.run(['delete', 'c8'])).code, 0);
    const bad = makeBundle(join(work, 'b9'), rootfs, [], (s) => ((s.process as { cwd: string }).cwd = 'relative'));
    const b = await rt.create('c9', bad, { dir: work });
    assert.equal(b.code, 1);
    assert.match(b.stderrOfCommand(), /\/process\/args: must NOT have fewer than 1 items/);
    assert.match(b.stderrOfCommand(), /\/process\/cwd: must match pattern/);
    assertNothingLeft();
  });

  it("a pod's containers (cri-o's annotations) share the VM of its sandbox container; each has its own holder and status; a member of a missing containerd pod is refused", async () => {
    const { rootfs } = await testImage();
    const crio = (type: string, sandboxId: string) => ({ 'io.kubernetes.cri-o.ContainerType': type, 'io.kubernetes.cri-o.SandboxID': sandboxId });
    const bootId = 'cat /proc/sys/kernel/random/boot_id';
    const pause = makeBundle(join(work, 'pod'), rootfs, ['sh', '-c', `${bootId}; exec sleep 600`], (s) => (s.annotations = crio('sandbox', 'pod1')));
    const p = await rt.create('pod1', pause, { dir: work });
    assert.equal(p.code, 0, p.stderrOfCommand());
    assert.equal((await rt.run(['start', 'pod1'])).code, 0);
    while (!p.stdout().includes('\n')) await sleep(100);
    // IPC and UTS joined by path, as cri-o writes them: in the VM, the sandbox container's.
    const member = makeBundle(join(work, 'm1'), rootfs, ['sh', '-c', `${bootId}; hostname; exit 5`], (s) => {
      s.annotations = crio('container', 'pod1');
      s.hostname = 'pod-member';
      const linux = s.linux as { namespaces: { type: string; path?: string }[] };
      linux.namespaces = linux.namespaces.map((ns) => (ns.type === 'ipc' || ns.type === 'uts' ? { type: ns.type, path: `/proc/${p.pid}/ns/${ns.type}` } : ns));
    });
    const m = await rt.create('m1', member, { dir: work });
    assert.equal(m.code, 0, m.stderrOfCommand());
    assert.notEqual(m.pid, p.pid, 'a holder of its own');
    assert.equal(processesMentioning(vms().stateRoot).filter((x) => x.cmdline.startsWith('qemu')).length, 1, 'one VM for the pod');
    assert.equal((await rt.run(['start', 'm1'])).code, 0);
    assert.equal(await m.exited, 5);
    const [podBoot] = p.stdout().split('\n');
    assert.equal(m.stdout(), `${podBoot}\nrunc\n`, "the same kernel boot; the sandbox container's UTS namespace");
    assert.equal((await rt.state('m1')).status, 'stopped');
    assert.equal((await rt.state('pod1')).status, 'running', 'the pod runs on');
    assert.equal((await rt.run(['delete', 'm1'])).code, 0);
    // containerd's CRI always has a sandbox container (cri-o may drop it: its first container then makes the pod's VM, see crio.test.ts).
    const orphan = makeBundle(join(work, 'm2'), rootfs, ['true'], (s) => (s.annotations = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'no-such-pod' }));
    const o = await rt.create('m2', orphan, { dir: work });
    assert.equal(o.code, 1);
    assert.equal(o.stderrOfCommand(), "the pod's sandbox container no-such-pod (annotation io.kubernetes.cri.sandbox-id) does not exist\n");
    // A member outlives nothing of its pod: exec reaches it in the pod's VM; the pod's end is its end.
    const sleeper = makeBundle(join(work, 'm3'), rootfs, ['sleep', '600'], (s) => (s.annotations = crio('container', 'pod1')));
    const m3 = await rt.create('m3', sleeper, { dir: work });
    assert.equal(m3.code, 0, m3.stderrOfCommand());
    assert.equal((await rt.run(['start', 'm3'])).code, 0);
    const e = await rt.run(['exec', 'm3', 'cat', '/proc/sys/kernel/random/boot_id']);
    assert.deepEqual([e.code, e.stdout], [0, `${podBoot}\n`], e.stderr);
    assert.equal((await rt.run(['delete', '--force', 'pod1'])).code, 0);
    assert.equal(await p.exited, 137);
    assert.equal(await m3.exited, 137, "the pod's VM went, and the member with it");
    assert.equal((await rt.state('m3')).status, 'stopped');
    assert.equal((await rt.run(['delete', 'm3'])).code, 0);
    assertNothingLeft();
  });

  it('two creates with one id at once: one container, the other is told it exists', async () => {
    const bundle = makeBundle(join(work, 'b10'), (await testImage()).rootfs, ['true']);
    const [a, b] = await Promise.all([rt.create('same', bundle, { dir: join(work, 'a') }), rt.create('same', bundle, { dir: join(work, 'b') })]);
    assert.deepEqual([a.code, b.code].sort(), [0, 1]);
    assert.equal((a.code === 1 ? a : b).stderrOfCommand(), 'container with id exists: same\n');
    assert.equal((await rt.run(['delete', '--force', 'same'])).code, 0);
    assertNothingLeft();
  });
});
