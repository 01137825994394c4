import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MayuError } from '@mayu/protocol';
import { CONSOLES_DIR, consoleSocketPath, crunOciVersion } from '../../src/container/container-manager.js';
import { alive, FakeGuest, procState, rootfsOf, rootfsStorage, spec } from './fake-guest.js';

const init = (containerId: string) => ({ containerId, execId: '' });
const noStdio = { terminal: false, stdin: false };

/** Polls `check` until it holds (a stop signal takes effect when its process next runs). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 2000; !check(); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() > deadline) assert.fail(`never: ${what}`);
  }
}

/** What the manager must leave behind after a failed create: nothing. */
function assertNothingLeft(g: FakeGuest, id: string): void {
  assert.equal(g.manager.count, 0);
  assert.equal(existsSync(join(g.containersDir, id)), false, 'bundle directory removed');
  assert.deepEqual(g.storage.mounted, [], 'storages unmounted');
  assert.deepEqual(g.calls().at(-1), ['delete', '--force', id], 'crun delete --force called last');
  assert.equal(g.crunStatus(id), null, 'no crun state left');
}

describe('console sockets', () => {
  it('have short names whatever the ids (containerd gives 64 characters each): they fit sun_path', () => {
    const id = 'a'.repeat(64);
    const exec = 'b'.repeat(64);
    const path = consoleSocketPath(CONSOLES_DIR, id, exec);
    assert.ok(Buffer.byteLength(path) <= 107, path);
    assert.notEqual(path, consoleSocketPath(CONSOLES_DIR, id, ''), 'the init and an exec have their own');
    assert.notEqual(path, consoleSocketPath(CONSOLES_DIR, `${id}b`, exec.slice(1)), 'ids are not simply concatenated');
  });
});

describe("the spec version crun is given (Debian 12's crun 1.8.1 refuses 1.2 and later by the string)", () => {
  it('keeps 1.0 and 1.1 as they are, and gives 1.1.0 for a newer one (containerd 1.7.24 and 2.x write 1.2.x)', () => {
    assert.deepEqual(['1.0.2', '1.0.2-dev', '1.1.0', '1.1.0-rc.1', '1.2.0', '1.2.1', '1.3.0'].map(crunOciVersion), ['1.0.2', '1.0.2-dev', '1.1.0', '1.1.0-rc.1', '1.1.0', '1.1.0', '1.1.0']);
  });
});

describe('container manager (fake crun)', function () {
  this.slow(1000);
  let g: FakeGuest;

  beforeEach(() => {
    g = new FakeGuest();
  });

  afterEach(async () => {
    await g.destroy();
  });

  describe('state', () => {
    it('creates, starts, pauses and resumes a container, and removes it while paused', async () => {
      await g.create('c1', ['sleep', '30']);
      const pid = g.initPid('c1');
      assert.equal(g.manager.count, 1);
      assert.deepEqual(g.storage.mounted, [rootfsOf('c1')]);
      assert.equal(g.crunStatus('c1'), 'created');
      assert.equal((await g.logged('container.created')).pid, pid);

      await g.manager.startContainer('c1');
      assert.equal(g.crunStatus('c1'), 'running');
      await g.manager.pause('c1');
      await eventually(() => procState(pid) === 'T', 'the paused process is stopped');
      await g.manager.resume('c1');
      assert.notEqual(procState(pid), 'T');
      await g.manager.pause('c1');

      await g.manager.removeContainer('c1', 5000);
      assert.equal(alive(pid), false);
      assert.deepEqual(
        g
          .calls()
          .slice(1)
          .map((c) => c.join(' ')),
        ['start c1', 'pause c1', 'resume c1', 'pause c1', 'resume c1', 'kill --all c1 KILL', 'delete --force c1'],
      );
      assert.equal(g.manager.count, 0);
      assert.equal(existsSync(join(g.containersDir, 'c1')), false);
      assert.deepEqual(g.storage.mounted, []);
    });

    it('refuses transitions the state table does not allow, naming from and to', async () => {
      await g.create('c1', ['sleep', '30']);
      const refused = (from: string, to: string) => ({ code: 'ERR_INVALID_STATE', details: { from, to } });
      await assert.rejects(g.manager.pause('c1'), refused('created', 'paused'));
      await g.manager.startContainer('c1');
      await assert.rejects(g.manager.startContainer('c1'), refused('running', 'running'));
      await g.manager.pause('c1');
      await assert.rejects(g.manager.pause('c1'), refused('paused', 'paused'));
      await g.manager.resume('c1');

      await g.run('c2', ['true']);
      await g.manager.waitProcess(init('c2'));
      await assert.rejects(g.manager.startContainer('c2'), refused('stopped', 'running'));
      await assert.rejects(g.manager.pause('c2'), refused('stopped', 'paused'));
      assert.deepEqual(
        g
          .calls()
          .filter((c) => c[0] === 'pause' || c[0] === 'start')
          .map((c) => c.join(' ')),
        ['start c1', 'pause c1', 'start c2'],
        'a refused transition never reaches crun',
      );
    });

    it('records a move only once crun made it, and resumes only a paused container', async () => {
      await g.create('c1', ['sleep', '30'], { annotations: { 'fake-crun/fail-start': 'cannot start: no such file' } });
      const refused = (from: string, to: string) => ({ code: 'ERR_INVALID_STATE', details: { from, to } });
      await assert.rejects(g.manager.resume('c1'), refused('created', 'running'), 'resume is not start');
      await assert.rejects(g.manager.startContainer('c1'), { code: 'ERR_INTERNAL', message: /crun start failed: cannot start/ });
      await assert.rejects(g.manager.pause('c1'), refused('created', 'paused'), 'a failed start leaves it created');
    });

    it('refuses a second container with one id, unknown ids and malformed ids', async () => {
      await g.create('c1', ['sleep', '30']);
      await assert.rejects(g.create('c1', ['sleep', '30']), { code: 'ERR_ALREADY_EXISTS', message: /container c1 already exists/ });
      assert.equal(g.calls().filter((c) => c[0] === 'create').length, 1);

      const notFound = { code: 'ERR_NOT_FOUND', details: { containerId: 'nope' } };
      await assert.rejects(g.manager.startContainer('nope'), notFound);
      await assert.rejects(g.manager.removeContainer('nope', 0), notFound);
      await assert.rejects(g.manager.pause('nope'), notFound);
      await assert.rejects(g.manager.signalProcess(init('nope'), 15, false), notFound);
      assert.throws(() => g.manager.waitProcess(init('nope')), notFound);
      assert.throws(() => g.manager.stats('nope'), notFound);
      assert.throws(() => g.manager.waitProcess({ containerId: 'c1', execId: 'e9' }), { code: 'ERR_NOT_FOUND', details: { execId: 'e9' } });

      await assert.rejects(g.create('../escape', ['true']), { code: 'ERR_INVALID_ARGUMENT', message: /container_id/ });
    });
  });

  describe('create failures', () => {
    it('a missing executable is ERR_COMMAND_NOT_FOUND, and nothing is left behind', async () => {
      await assert.rejects(g.create('c1', ['no-such-command']), (err: MayuError) => {
        assert.equal(err.code, 'ERR_COMMAND_NOT_FOUND');
        assert.match(err.message, /cannot create container c1: executable file `no-such-command` not found in \$PATH/);
        return true;
      });
      assertNothingLeft(g, 'c1');
      await g.create('c1', ['sleep', '30']);
      assert.equal(g.manager.count, 1, 'the id can be used again');
    });

    it('an executable without the execute permission is ERR_COMMAND_NOT_EXECUTABLE', async () => {
      const script = join(g.dir, 'not-executable');
      writeFileSync(script, '#!/bin/sh\n');
      chmodSync(script, 0o644);
      await assert.rejects(g.create('c1', [script]), { code: 'ERR_COMMAND_NOT_EXECUTABLE', message: /Permission denied/ });
      assertNothingLeft(g, 'c1');
    });

    it("other crun failures are ERR_INVALID_ARGUMENT with crun's message", async () => {
      const annotations = { 'fake-crun/fail-create': 'mount `proc` to `/proc`: Operation not permitted' };
      await assert.rejects(g.create('c1', ['true'], { annotations }), {
        code: 'ERR_INVALID_ARGUMENT',
        message: 'cannot create container c1: mount `proc` to `/proc`: Operation not permitted',
      });
      assertNothingLeft(g, 'c1');
    });

    it('a crun that crashes says how it died', async () => {
      await assert.rejects(g.create('c1', ['true'], { annotations: { 'fake-crun/crash-create': '' } }), {
        code: 'ERR_INVALID_ARGUMENT',
        message: 'cannot create container c1: killed by SIGKILL',
      });
      assertNothingLeft(g, 'c1');
    });

    it('a root filesystem that its storages do not provide is refused before crun runs', async () => {
      await assert.rejects(g.create('c1', ['true'], { storages: [] }), { code: 'ERR_INVALID_ARGUMENT', message: /\/root\/path.*does not exist in the guest/ });
      assert.deepEqual(g.calls(), [['delete', '--force', 'c1']]);
      assertNothingLeft(g, 'c1');
    });

    it('a storage that fails to mount fails the create and undoes the others', async () => {
      const storages = [rootfsStorage('c1'), { driver: 'bind' as const, source: 'fail', fstype: '', options: [], mountPoint: '/run/mayu/volumes/v' }];
      await assert.rejects(g.create('c1', ['true'], { storages }), { code: 'ERR_INVALID_ARGUMENT', message: /storages\[1\]/ });
      assertNothingLeft(g, 'c1');
    });

    it('an invalid spec names the JSON pointer and creates nothing', async () => {
      await assert.rejects(g.create('c1', ['true'], { spec: { ...spec('c1', ['true']), hooks: {} } }), { code: 'ERR_INVALID_ARGUMENT', message: /\/hooks/ });
      assert.deepEqual(g.calls(), []);
      assert.equal(existsSync(join(g.containersDir, 'c1')), false);
    });
  });

  describe('processes', () => {
    it('learns the exit of the init process from the exit reports, with its output', async () => {
      const pid = await g.run('c1', ['sh', '-c', 'echo hello; echo oops >&2; exit 3']);
      const exit = await g.manager.waitProcess(init('c1'));
      assert.deepEqual([exit.exitStatus, exit.signal], [3, 0]);
      assert.equal((await g.manager.readOutput(init('c1'), 'stdout', 0)).toString(), 'hello\n');
      assert.equal((await g.manager.readOutput(init('c1'), 'stderr', 0)).toString(), 'oops\n');
      assert.equal((await g.manager.readOutput(init('c1'), 'stdout', 0)).length, 0, 'then end of output');

      await assert.rejects(g.manager.execProcess({ containerId: 'c1', execId: 'e1', process: { args: ['true'], cwd: '/' }, stdio: noStdio }), {
        code: 'ERR_INVALID_STATE',
        message: /c1 is stopped, not running/,
      });
      await g.manager.removeContainer('c1', 0);
      assert.deepEqual(g.calls().at(-1), ['delete', '--force', 'c1'], 'an exited container is not killed');
      assert.equal(
        g.calls().some((c) => c[0] === 'kill'),
        false,
      );
      assert.equal(alive(pid), false);
    });

    it('runs an exec in the foreground and returns its exit status and output', async () => {
      await g.run('c1', ['sleep', '30'], { env: ['GREETING=hi'] });
      await g.manager.execProcess({
        containerId: 'c1',
        execId: 'e1',
        process: { args: ['sh', '-c', 'echo "$GREETING"; echo err >&2; exit 7'], cwd: '/', env: ['PATH=/usr/bin:/bin', 'GREETING=exec'] },
        stdio: noStdio,
      });
      const exit = await g.manager.waitProcess({ containerId: 'c1', execId: 'e1' });
      assert.deepEqual([exit.exitStatus, exit.signal], [7, 0]);
      assert.equal((await g.manager.readOutput({ containerId: 'c1', execId: 'e1' }, 'stdout', 0)).toString(), 'exec\n');
      assert.equal((await g.manager.readOutput({ containerId: 'c1', execId: 'e1' }, 'stderr', 0)).toString(), 'err\n');
      await assert.rejects(g.manager.execProcess({ containerId: 'c1', execId: 'e1', process: { args: ['true'], cwd: '/' }, stdio: noStdio }), {
        code: 'ERR_ALREADY_EXISTS',
      });
    });

    it('keeps the output of an exec that exits before its PID file is seen', async () => {
      await g.run('c1', ['sleep', '30'], { annotations: { 'fake-crun/exec-pid-file-at-exit': '' } });
      await g.manager.execProcess({ containerId: 'c1', execId: 'e1', process: { args: ['echo', 'fast'], cwd: '/' }, stdio: noStdio });
      const ref = { containerId: 'c1', execId: 'e1' };
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the output never ended')), 900).unref());
      const [exit, out] = await Promise.race([Promise.all([g.manager.waitProcess(ref), g.manager.readOutput(ref, 'stdout', 0)]), timeout]);
      assert.equal(exit.exitStatus, 0);
      assert.equal(out.toString(), 'fast\n');
    });

    it('an exec killed by a signal exits 128 + N; a missing executable is ERR_COMMAND_NOT_FOUND', async () => {
      await g.run('c1', ['sleep', '30']);
      await g.manager.execProcess({ containerId: 'c1', execId: 'e1', process: { args: ['sleep', '30'], cwd: '/' }, stdio: noStdio });
      await g.manager.signalProcess({ containerId: 'c1', execId: 'e1' }, 15, false);
      const exit = await g.manager.waitProcess({ containerId: 'c1', execId: 'e1' });
      assert.deepEqual([exit.exitStatus, exit.signal], [143, 15]);

      await assert.rejects(g.manager.execProcess({ containerId: 'c1', execId: 'e2', process: { args: ['no-such-command'], cwd: '/' }, stdio: noStdio }), {
        code: 'ERR_COMMAND_NOT_FOUND',
        message: /cannot exec in container c1: executable file `no-such-command` not found/,
      });
    });

    it('refuses an exec into a container that is not running', async () => {
      await g.create('c1', ['sleep', '30']);
      const exec = { containerId: 'c1', execId: 'e1', process: { args: ['true'], cwd: '/' }, stdio: noStdio };
      await assert.rejects(g.manager.execProcess(exec), { code: 'ERR_INVALID_STATE', message: /c1 is created, not running/ });
      await g.manager.startContainer('c1');
      await g.manager.pause('c1');
      await assert.rejects(g.manager.execProcess(exec), { code: 'ERR_INVALID_STATE', message: /c1 is paused, not running/ });
      assert.equal(
        g.calls().some((c) => c[0] === 'exec'),
        false,
      );
    });

    it('passes stdin to the init process', async function () {
      if (!existsSync(new URL('../../../build/Release/sys.node', import.meta.url))) this.skip();
      await g.run('c1', ['cat'], { stdio: { terminal: false, stdin: true } });
      assert.equal(await g.manager.writeStdin(init('c1'), Buffer.from('ping\n')), 5);
      g.manager.closeStdin(init('c1'));
      assert.equal((await g.manager.waitProcess(init('c1'))).exitStatus, 0);
      assert.equal((await g.manager.readOutput(init('c1'), 'stdout', 0)).toString(), 'ping\n');
    });
  });

  describe('signals and removal', () => {
    it('refuses signal numbers outside 1..64, and delivers valid ones', async () => {
      await g.run('c1', ['sleep', '30']);
      for (const bad of [0, 65, -1, 1.5]) {
        await assert.rejects(g.manager.signalProcess(init('c1'), bad, false), { code: 'ERR_INVALID_ARGUMENT', message: /signal/ });
      }
      await g.manager.signalProcess(init('c1'), 10, true);
      assert.deepEqual(g.calls().at(-1), ['kill', '--all', 'c1', '10']);
      const exit = await g.manager.waitProcess(init('c1'));
      assert.deepEqual([exit.exitStatus, exit.signal], [138, 10]);
    });

    it("a container in its pod's PID namespace: when its init ends, what is left in its cgroup is killed (as runc's shim does); one with its own is left to the kernel", async () => {
      await g.run('pod', ['sleep', '30']);
      await g.run('member', ['sh', '-c', 'exit 0'], { shareNamespaces: { containerId: 'pod', types: ['pid'] } });
      await g.manager.waitProcess(init('member'));
      assert.deepEqual((await g.logged('container.leftovers_killed')).containerId, 'member');
      assert.equal(readFileSync(join(g.cgroupDir('member'), 'cgroup.kill'), 'utf8'), '1');
      await g.run('alone', ['sh', '-c', 'exit 0']);
      await g.manager.waitProcess(init('alone'));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(existsSync(join(g.cgroupDir('alone'), 'cgroup.kill')), false, 'its own PID namespace ends with its init');
    });

    it('removing a running container kills every process in it and waits for the exit', async () => {
      const pid = await g.run('c1', ['sleep', '30']);
      await g.manager.execProcess({ containerId: 'c1', execId: 'e1', process: { args: ['sleep', '30'], cwd: '/' }, stdio: noStdio });
      const execPid = g.manager.listProcesses('c1').find((p) => p.execId === 'e1')?.pid;
      assert.ok(execPid);
      const started = Date.now();
      await g.manager.removeContainer('c1', 5000);
      assert.ok(Date.now() - started < 4000, 'the exit was learned, not waited out');
      assert.equal(alive(pid), false, 'init reaped before remove returned');
      assert.deepEqual(g.calls().slice(-2), [
        ['kill', '--all', 'c1', 'KILL'],
        ['delete', '--force', 'c1'],
      ]);
      assert.equal((await g.logged('container.removed')).containerId, 'c1');
      assert.deepEqual(g.storage.mounted, []);
      assert.equal(existsSync(g.cgroupDir('c1')), false);
    });

    it('removing a container that was never started kills its waiting process', async () => {
      await g.create('c1', ['sleep', '30']);
      const pid = g.initPid('c1');
      await g.manager.removeContainer('c1', 5000);
      assert.equal(alive(pid), false);
      assert.equal(g.manager.count, 0);
    });
  });

  describe('cgroup', () => {
    it("reads stats and processes from the container's cgroup, and updates its resources", async () => {
      const pid = await g.run('c1', ['sleep', '30']);
      writeFileSync(join(g.cgroupDir('c1'), 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n');
      await g.manager.update('c1', { memory: { limit: 1 << 24 } });
      const s = g.manager.stats('c1');
      assert.deepEqual([s.cpu.usageUsec, s.memory.limitBytes], [1500, 1 << 24]);
      const procs = g.manager.listProcesses('c1');
      assert.deepEqual(
        procs.map((p) => [p.pid, p.execId]),
        [[pid, '']],
      );
      assert.match(procs[0]?.command ?? '', /sleep 30$/, 'its command line, from /proc');
      await assert.rejects(g.manager.update('c1', [1]), { code: 'ERR_INVALID_ARGUMENT', message: /resources_json/ });
    });

    it('delivers OOM kills to a waiter, and queues them when nobody waits', async () => {
      await g.create('c1', ['sleep', '30']);
      await g.create('c2', ['sleep', '30']);
      const events = (id: string, kills: number) => writeFileSync(join(g.cgroupDir(id), 'memory.events'), `oom ${kills}\noom_kill ${kills}\n`);

      const waiting = g.manager.nextOomEvent();
      events('c2', 1);
      assert.equal(await waiting, 'c2');

      events('c1', 1);
      await g.logged('container.oom', 2);
      assert.equal(await g.manager.nextOomEvent(), 'c1', 'queued');
    });
  });

  describe('shared namespaces', () => {
    it("points the shared namespaces at the owner's init process", async () => {
      await g.run('pod', ['sleep', '30']);
      const ownerPid = g.initPid('pod');
      await g.create('c1', ['sleep', '30'], { shareNamespaces: { containerId: 'pod', types: ['ipc', 'uts'] } });
      const config = g.bundleConfig('c1');
      assert.deepEqual(config.linux.namespaces, [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc', path: `/proc/${ownerPid}/ns/ipc` }, { type: 'uts', path: `/proc/${ownerPid}/ns/uts` }]);
      assert.equal(config.hostname, undefined, "a joined uts namespace keeps the sandbox's hostname");
      assert.equal(config.linux.cgroupsPath, '/mayu/c1');
    });

    it("a pod without a sandbox container: its containers join the pod's own IPC and UTS namespaces, made once with the sandbox's hostname, and its PID namespace, held by a process made once; all gone with the sandbox", async () => {
      g.manager.createSandbox({ sandboxId: 'pod', hostname: 'pod-host', dns: [], storages: [], sandboxPidns: false, annotations: {} });
      const podNs = join(g.dir, 'pod-ns');
      await g.create('c1', ['sleep', '30'], { shareNamespaces: { containerId: '', types: ['ipc', 'uts'] } });
      await g.create('c2', ['sleep', '30'], { shareNamespaces: { containerId: '', types: ['uts'] } });
      assert.deepEqual(g.pins, [{ dir: podNs, hostname: 'pod-host' }], 'made once, on first use');
      assert.deepEqual(g.bundleConfig('c1').linux.namespaces, [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc', path: join(podNs, 'ipc') }, { type: 'uts', path: join(podNs, 'uts') }]);
      assert.deepEqual(g.bundleConfig('c2').linux.namespaces.at(-1), { type: 'uts', path: join(podNs, 'uts') });
      assert.equal(g.pidHolders.length, 0, 'no PID namespace until a container shares it');
      await g.create('c3', ['sleep', '30'], { shareNamespaces: { containerId: '', types: ['pid', 'ipc'] } });
      await g.create('c4', ['sleep', '30'], { shareNamespaces: { containerId: '', types: ['pid'] } });
      const holder = g.pidHolders[0];
      assert.equal(g.pidHolders.length, 1, 'one holder, made on first use');
      assert.deepEqual(g.bundleConfig('c3').linux.namespaces, [{ type: 'uts' }, { type: 'mount' }, { type: 'pid', path: `/proc/${holder?.pid}/ns/pid` }, { type: 'ipc', path: join(podNs, 'ipc') }]);
      assert.deepEqual(g.bundleConfig('c4').linux.namespaces.at(-1), { type: 'pid', path: `/proc/${holder?.pid}/ns/pid` });
      const killed = new Promise((resolve) => holder?.once('exit', (_code, signal) => resolve(signal)));
      await g.manager.destroySandbox();
      assert.deepEqual(g.pins.at(-1), { dir: podNs, hostname: '(unpinned)' }, 'unpinned with the sandbox');
      assert.equal(await killed, 'SIGKILL', "the PID namespace's holder is killed with the sandbox");
    });

    it('refuses to join an unknown container or one that has exited', async () => {
      await assert.rejects(g.create('c1', ['true'], { shareNamespaces: { containerId: 'nope', types: ['pid'] } }), {
        code: 'ERR_INVALID_ARGUMENT',
        message: /share_namespaces\.container_id.*not a container of this sandbox/,
      });
      assertNothingLeft(g, 'c1');

      await g.run('pod', ['true']);
      await g.manager.waitProcess(init('pod'));
      await assert.rejects(g.create('c1', ['true'], { shareNamespaces: { containerId: 'pod', types: ['ipc'] } }), {
        code: 'ERR_INVALID_ARGUMENT',
        message: /has exited; its namespaces are gone/,
      });
      assert.equal(g.manager.count, 1);
      assert.equal(existsSync(join(g.containersDir, 'c1')), false);
    });
  });

  describe('sandbox', () => {
    it('sets the hostname and mounts the sandbox storages; destroying it removes every container and unmounts them', async () => {
      g.manager.createSandbox({
        sandboxId: 'sb',
        hostname: 'pod-host',
        dns: [],
        storages: [{ driver: '9p', source: 'mayushared', fstype: '', options: [], mountPoint: '/run/mayu/shared' }],
        sandboxPidns: false,
        annotations: {},
      });
      assert.deepEqual(g.hostnames, ['pod-host']);
      await g.create('c1', ['sleep', '30'], { storages: [] });
      const pid = await g.run('c2', ['sleep', '30']);
      assert.deepEqual(g.storage.mounted, ['/run/mayu/shared', rootfsOf('c2')]);

      await g.manager.destroySandbox();
      assert.equal(g.manager.count, 0);
      assert.deepEqual(g.storage.mounted, []);
      assert.equal(alive(pid), false);
    });
  });
});
