import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podRoleOf } from '@mayu/protocol';
import { networkOf, readBundle, writePidFile } from '../../src/oci-runtime/commands/create.js';
import { parseExecArgs } from '../../src/oci-runtime/commands/exec.js';
import { askHolder, serveControl } from '../../src/oci-runtime/control.js';
import { runHook, runHooks, takeHooks } from '../../src/oci-runtime/hooks.js';
import { parseGlobals } from '../../src/oci-runtime/globals.js';
import { textLine } from '../../src/oci-runtime/log.js';
import {
  claimContainerDir,
  currentStatus,
  dropExecHolderNote,
  execHolderNotes,
  getContainer,
  liveExecHolders,
  noteExecHolder,
  ociState,
  removeContainerDir,
  writeRecord,
  type ContainerRecord,
} from '../../src/oci-runtime/state.js';

function record(id: string, over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id,
    bundle: '/b',
    rootfs: '/b/rootfs',
    annotations: { a: 'b' },
    created: '2026-12-01T00:00:00.000Z',
    status: 'running',
    pid: process.pid,
    pidStart: null,
    sandboxId: id,
    sandboxDir: null,
    pod: null,
    configPath: null,
    network: null,
    exit: null,
    hooks: {},
    process: {},
    ...over,
  };
}

describe('mayu-runtime: runc command line', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mayu-rt-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('notes a detached exec holder (its exec id) for ps while it runs; a holder that is gone, or another process under its PID, is not alive', () => {
    assert.deepEqual(execHolderNotes(dir), []);
    const unnote = noteExecHolder(dir, 'exec-1');
    writeFileSync(join(dir, 'exec-holders', '1'), JSON.stringify({ start: 12345, execId: 'exec-reused-pid' }));
    writeFileSync(join(dir, 'exec-holders', '999999999'), JSON.stringify({ start: 1, execId: 'exec-gone' }));
    writeFileSync(join(dir, 'exec-holders', '7'), 'not json');
    assert.deepEqual(execHolderNotes(dir), [
      { pid: 1, execId: 'exec-reused-pid', alive: false },
      { pid: process.pid, execId: 'exec-1', alive: true },
      { pid: 999999999, execId: 'exec-gone', alive: false },
    ]);
    assert.deepEqual(liveExecHolders(dir), [process.pid]);
    dropExecHolderNote(dir, 999999999);
    unnote();
    assert.deepEqual(
      execHolderNotes(dir).map((n) => n.pid),
      [1],
    );
  });

  it("reads a pod's container from cri-o's or containerd CRI's annotations; a sandbox container or none gets a VM of its own", () => {
    assert.deepEqual(podRoleOf({ 'io.kubernetes.cri-o.ContainerType': 'container', 'io.kubernetes.cri-o.SandboxID': 'p1' }), {
      kind: 'member',
      sandboxId: 'p1',
      annotation: 'io.kubernetes.cri-o.SandboxID',
    });
    assert.deepEqual(podRoleOf({ 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'p2' }), {
      kind: 'member',
      sandboxId: 'p2',
      annotation: 'io.kubernetes.cri.sandbox-id',
    });
    assert.deepEqual(podRoleOf({ 'io.kubernetes.cri-o.ContainerType': 'sandbox', 'io.kubernetes.cri-o.SandboxID': 'p1' }), { kind: 'own-vm' });
    assert.deepEqual(podRoleOf(undefined), { kind: 'own-vm' });
    assert.throws(() => podRoleOf({ 'io.kubernetes.cri.container-type': 'container' }), /io.kubernetes.cri.sandbox-id does not name the pod's sandbox \(undefined\)/);
  });

  it("exec's flags end at the container id: the command keeps its own flags", () => {
    const a = parseExecArgs(['-t', '--env', 'A=1', '-e', 'B=2', '--cwd=/tmp', 'c1', 'sh', '-c', 'echo hi', '--tty']);
    assert.deepEqual(a.positionals, ['c1', 'sh', '-c', 'echo hi', '--tty']);
    assert.equal(a.values.tty, true);
    assert.deepEqual(a.values.env, ['A=1', 'B=2']);
    assert.equal(a.values.cwd, '/tmp');
    assert.deepEqual(parseExecArgs(['--process', '/p.json', '--detach', 'c1']).positionals, ['c1']);
    assert.deepEqual(parseExecArgs(['-d', '--', 'c1', '-x']).positionals, ['c1', '-x']);
    assert.throws(() => parseExecArgs(['--bogus', 'c1']), /bogus/);
  });

  it('takes runc global flags before the command, as --flag VALUE or --flag=VALUE', () => {
    const { globals, command, args } = parseGlobals(['--root', '/r', '--log=/l.json', '--log-format', 'json', '--systemd-cgroup', '--debug', '--config', '/c.toml', 'create', '--bundle', 'b', 'x']);
    assert.equal(globals.root, '/r');
    assert.equal(globals.configPath, '/c.toml');
    assert.deepEqual(globals.log, { file: '/l.json', format: 'json', debug: true });
    assert.equal(command, 'create');
    assert.deepEqual(args, ['--bundle', 'b', 'x']);
    assert.match(globals.ignored.join(), /--systemd-cgroup/);
    assert.equal(parseGlobals(['--version']).command, '--version');
    assert.equal(parseGlobals(['state', 'x']).globals.root, '/run/mayu-runtime');
  });

  it("refuses unknown global flags and log formats in runc's words", () => {
    assert.throws(() => parseGlobals(['--bogus', 'state']), /flag provided but not defined: --bogus/);
    assert.throws(() => parseGlobals(['--log-format', 'xml', 'state']), /invalid log-format: xml/);
    assert.throws(() => parseGlobals(['--root']), /flag needs an argument: --root/);
  });

  it('writes text logs as runc does (logfmt), json as {"level","msg","time"}', () => {
    assert.equal(textLine('{"level":"error","time":"2026-12-01T00:00:00Z","msg":"container does not exist"}'), 'time=2026-12-01T00:00:00Z level=error msg="container does not exist"');
    assert.equal(textLine('{"level":"info","time":"t","msg":"ok","pid":3}'), 'time=t level=info msg=ok pid=3');
  });

  it('reads a bundle: root.path relative to it ("." is the bundle), a netns path the engine made, a terminal', () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ root: { path: '.' }, process: { terminal: true }, linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/run/netns/x' }] } }));
    const b = readBundle(dir);
    assert.equal(b.rootfs, dir);
    assert.deepEqual(networkOf(b.spec), { kind: 'ns', path: '/run/netns/x' });
    assert.equal(b.terminal, true);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ root: { path: 'rootfs' }, linux: { namespaces: [{ type: 'network' }] } }));
    assert.deepEqual(networkOf(readBundle(dir).spec), { kind: 'none' });
    assert.equal(readBundle(dir).rootfs, join(dir, 'rootfs'));
  });

  it('names the bundle field that is wrong', () => {
    assert.throws(() => readBundle(join(dir, 'none')), /cannot read the bundle's config.json .*none\/config.json/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ root: {} }));
    assert.throws(() => readBundle(dir), /root.path must be a path .*not undefined/);
    writeFileSync(join(dir, 'config.json'), '[1]');
    assert.throws(() => readBundle(dir), /must be a JSON object/);
  });

  it('claims an id once (a second create with it fails as runc does); an id must be a file name', () => {
    claimContainerDir(dir, 'c1');
    assert.throws(() => claimContainerDir(dir, 'c1'), /container with id exists: c1/);
    assert.throws(() => claimContainerDir(dir, '../x'), /invalid id format: \.\.\/x/);
  });

  it('an unknown id is "container does not exist"', () => {
    assert.throws(() => getContainer(dir, 'nope'), { message: 'container does not exist' });
  });

  it('a container whose holder is gone is stopped, with pid 0', () => {
    const d = claimContainerDir(dir, 'c2');
    writeRecord(d, record('c2', { pid: 2 ** 22 + 7 }));
    const { record: r } = getContainer(dir, 'c2');
    assert.equal(currentStatus(r), 'stopped');
    assert.deepEqual(ociState(r), { ociVersion: '1.0.2', id: 'c2', pid: 0, status: 'stopped', bundle: '/b', rootfs: '/b/rootfs', created: r.created, annotations: { a: 'b' }, owner: '' });
  });

  it('two deletes of one container: one removes it, the other finds nothing', () => {
    claimContainerDir(dir, 'c3');
    assert.equal(removeContainerDir(dir, 'c3'), true);
    assert.equal(removeContainerDir(dir, 'c3'), false);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('writes the pid file whole (through a temporary renamed over it)', () => {
    const f = join(dir, 'pid');
    writePidFile(f, 1234);
    assert.equal(readFileSync(f, 'utf8'), '1234');
    assert.deepEqual(readdirSync(dir), ['pid']);
  });

  it("the control socket answers one request, and passes refusals on in the holder's words", async () => {
    mkdirSync(join(dir, 'h'));
    const seen: string[] = [];
    const server = await serveControl(join(dir, 'h'), async (r) => {
      seen.push(r.op);
      if (r.op === 'pause') throw new Error('container not running: created');
    });
    try {
      await askHolder(join(dir, 'h'), { op: 'start' });
      await assert.rejects(askHolder(join(dir, 'h'), { op: 'pause' }), { message: 'container not running: created' });
      assert.deepEqual(seen, ['start', 'pause']);
    } finally {
      server.close();
    }
    await assert.rejects(askHolder(join(dir, 'h'), { op: 'start' }), /cannot reach the container's holder/);
  });

  it("the control socket works under a directory too long for sun_path (an engine's long --root and a 64-character id)", async () => {
    const long = join(dir, 'run', 'mayu-runtime-with-a-long-root', 'a'.repeat(64));
    assert.ok(join(long, 'control.sock').length > 108);
    mkdirSync(long, { recursive: true });
    const seen: string[] = [];
    const server = await serveControl(long, async (r) => void seen.push(r.op));
    try {
      assert.deepEqual(readdirSync(long), ['control.sock'], 'the socket is where it belongs, under its full name');
      await askHolder(long, { op: 'start' });
      assert.deepEqual(seen, ['start']);
    } finally {
      server.close();
    }
  });

  it("the command line: an unknown id fails with runc's message and status 1, in the json log too", async () => {
    const bin = join(import.meta.dirname, '../../../bin/mayu-runtime.js');
    const log = join(dir, 'log.json');
    const run = (args: string[]): Promise<{ code: number | null; stderr: string }> =>
      new Promise((resolve) => {
        const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        p.on('close', (code) => resolve({ code, stderr }));
      });
    for (const args of [
      ['state', 'nope'],
      ['kill', 'nope', 'KILL'],
      ['start', 'nope'],
      ['delete', 'nope'],
      ['exec', 'nope', 'true'],
    ]) {
      const r = await run(['--root', dir, '--log', log, '--log-format', 'json', ...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr, 'container does not exist\n', args.join(' '));
    }
    const lines = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
    assert.equal(lines.length, 5);
    for (const l of lines) assert.deepEqual([l.level, l.msg, typeof l.time], ['error', 'container does not exist', 'string']);
    assert.equal((await run(['--root', dir, 'delete', '--force', 'nope'])).code, 0);
  });

  it('takes the hooks out of the spec: host phases kept, guest phases and malformed hooks refused by name', () => {
    const spec: Record<string, unknown> = { hooks: { prestart: [{ path: '/bin/true' }], poststop: [{ path: '/bin/echo', args: ['echo', 'x'], timeout: 3 }], poststart: [] } };
    assert.deepEqual(takeHooks(spec), {
      prestart: [{ path: '/bin/true', args: undefined, env: undefined, timeout: undefined }],
      poststop: [{ path: '/bin/echo', args: ['echo', 'x'], env: undefined, timeout: 3 }],
    });
    assert.equal(spec.hooks, undefined);
    assert.throws(() => takeHooks({ hooks: { createContainer: [{ path: '/x' }] } }), /hooks.createContainer: these hooks run in the container's namespaces, which are inside the VM/);
    assert.throws(() => takeHooks({ hooks: { prestart: [{ path: 'rel' }] } }), /hooks.prestart\[0\].path: must be an absolute path, not "rel"/);
    assert.throws(() => takeHooks({ hooks: { poststop: [{ path: '/x', timeout: 0 }] } }), /hooks.poststop\[0\].timeout: must be a positive integer, not 0/);
    assert.throws(() => takeHooks({ hooks: { prestop: [{ path: '/x' }] } }), /hooks.prestop: not a hook phase/);
  });

  it('runs a hook with the state on its stdin, its args (argv[0] first) and env; a failure or timeout names it', async () => {
    const out = join(dir, 'hook-out');
    await runHook({ path: '/bin/sh', args: ['sh', '-c', `cat > ${out}; echo "$0 $V" >> ${out}`], env: ['V=7'] }, { id: 'c', status: 'created' }, 'prestart');
    assert.equal(readFileSync(out, 'utf8'), '{"id":"c","status":"created"}sh 7\n');
    await assert.rejects(runHook({ path: '/bin/sh', args: ['sh', '-c', 'echo broken >&2; exit 3'] }, {}, 'createRuntime'), { message: 'createRuntime hook /bin/sh exited with status 3: broken' });
    await assert.rejects(runHook({ path: '/bin/sleep', args: ['sleep', '10'], timeout: 1 }, {}, 'poststart'), { message: 'poststart hook /bin/sleep did not finish within 1 s' });
    await assert.rejects(runHook({ path: '/nonexistent' }, {}, 'prestart'), /prestart hook \/nonexistent: spawn \/nonexistent ENOENT/);
  });

  it('a failing prestart hook ends its phase; a failing poststart or poststop hook is a warning and the next still runs', async () => {
    const out = join(dir, 'ran');
    const hooks = (phase: 'prestart' | 'poststop') => ({
      [phase]: [
        { path: '/bin/sh', args: ['sh', '-c', 'exit 1'] },
        { path: '/bin/sh', args: ['sh', '-c', `echo second >> ${out}`] },
      ],
    });
    await assert.rejects(runHooks(hooks('prestart'), 'prestart', {}), /prestart hook \/bin\/sh exited with status 1/);
    assert.ok(!existsSync(out));
    const warnings: string[] = [];
    await runHooks(hooks('poststop'), 'poststop', {}, (err) => warnings.push((err as Error).message));
    assert.deepEqual(warnings, ['poststop hook /bin/sh exited with status 1']);
    assert.equal(readFileSync(out, 'utf8'), 'second\n');
  });
});
