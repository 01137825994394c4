/**
 * The fake crun's Node half, for the container manager's unit tests: the
 * commands that read JSON (create, exec, update), started by its shell front
 * (fake-crun-front.ts, which documents the state files). Real processes
 * stand for containers, without namespaces, cgroups or mounts, so it runs
 * unprivileged.
 *
 *   fake-crun.js --root DIR [--log=FILE] create --bundle B --pid-file F ID
 *   fake-crun.js --root DIR [--log=FILE] exec --process F --pid-file P ID
 *   fake-crun.js --root DIR update --resources F ID
 *
 * `create` starts the process of config.json blocked on a FIFO (crun's
 * exec.fifo) until `start`. Its parent is a small shell that waits for it
 * and appends "PID WAIT-STATUS" to $FAKE_CRUN_EXIT_REPORTS, standing for
 * mayu-init's exit reports. With $FAKE_CRUN_CGROUP_ROOT, `create` makes the
 * container's cgroup directory (linux.cgroupsPath) with a few files in it.
 * `exec` runs in the foreground and exits with the process's status.
 *
 * Failures are crun-like: a JSON line `{"msg","level":"error"}` in --log
 * (else text on stderr) and exit status 1. A container's annotations make
 * chosen commands fail: `fake-crun/fail-<command>: <message>`, or
 * `fake-crun/crash-<command>` (crun killed by SIGKILL); with
 * `fake-crun/exec-pid-file-at-exit`, an exec's PID file appears only once
 * its process has exited (as when the manager's polling misses it).
 *
 * It never writes to process.stdout/stderr during a create or exec: those
 * are the container's stdio, and Node would make them non-blocking.
 */
import { spawn } from 'node:child_process';
import { accessSync, appendFileSync, constants, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';

interface Process {
  args: string[];
  cwd?: string;
  env?: string[];
}

interface Config {
  process: Process;
  annotations?: Record<string, string>;
  linux?: { cgroupsPath?: string; namespaces?: { type: string; path?: string }[] };
}

const VALUED = new Set(['--root', '--bundle', '-b', '--pid-file', '--console-socket', '--process', '-p', '--resources', '-r']);
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ANNOTATION = /^fake-crun\/(fail|crash)-([a-z]+)$/;

/**
 * The parent of a container's process: starts it (blocked on the FIFO until
 * `start`), tells crun its PID on fd 3, waits for it and reports its exit as
 * a wait(2) status. A background job of a non-interactive shell ignores
 * SIGINT and SIGQUIT: tests should signal with others.
 */
const SUPERVISOR = `
reports=$0 gate=$1; shift
exec 4<&0
/bin/sh -c 'echo > "$0"; exec "$@"' "$gate" "$@" <&4 4<&- 3>&- &
pid=$!
echo "$pid" >&3
exec 3>&- 4<&- </dev/null >/dev/null 2>&1
wait "$pid"
st=$?
if [ "$st" -gt 128 ]; then ws=$((st - 128)); else ws=$((st * 256)); fi
echo "$pid $ws" >> "$reports"
`;

const opts = new Map<string, string | true>();
const positional: string[] = [];
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) opts.set(a.slice(0, eq), a.slice(eq + 1));
    else if (VALUED.has(a)) opts.set(a, argv[++i] ?? '');
    else if (a.startsWith('-')) opts.set(a, true);
    else positional.push(a);
  }
}
const [command = '', id = ''] = positional;
const root = option('--root') ?? '/run/crun';
const logFile = option('--log');
const dir = join(root, id);

function option(...names: string[]): string | undefined {
  for (const n of names) {
    const v = opts.get(n);
    if (typeof v === 'string') return v;
  }
  return undefined;
}

function logLine(message: string): string {
  return `${JSON.stringify({ msg: message, level: 'error', time: new Date().toISOString() })}\n`;
}

function fail(message: string): never {
  if (logFile) appendFileSync(logFile, logLine(message));
  else writeSync(2, `crun: ${message}\n`);
  process.exit(1);
}

function readJson<T>(path: string, what: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return fail(`${what}: cannot read \`${path}\`: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    return fail(`${what}: invalid JSON in \`${path}\`: ${(err as Error).message}`);
  }
}

function stateFile(name: string): string {
  try {
    return readFileSync(join(dir, name), 'utf8').trim();
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The state the front keeps, for exec and update. */
function load(): { pid: number; status: string; cgroup: string } {
  const pid = Number(stateFile('pid'));
  if (!pid) fail(`container \`${id}\` does not exist`);
  if (existsSync(join(dir, `crash-${command}`))) process.kill(process.pid, 'SIGKILL');
  const injected = stateFile(`fail-${command}`);
  if (injected) fail(injected);
  return { pid, status: alive(pid) ? stateFile('status') : 'stopped', cgroup: stateFile('cgroup') };
}

function configOf(bundle: string): Config {
  try {
    return JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Config;
  } catch {
    return { process: { args: [] } };
  }
}

function envMap(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const eq = e.indexOf('=');
    if (eq > 0) out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

/** The executable crun would run, or its error: missing, or not executable. */
function executable(p: Process): string {
  const name = p.args[0] ?? '';
  const path = envMap(p.env ?? []).PATH ?? DEFAULT_PATH;
  const candidates = name.includes('/')
    ? [resolve(p.cwd ?? '/', name)]
    : path
        .split(':')
        .filter(Boolean)
        .map((d) => join(d, name));
  let denied: string | null = null;
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
    } catch {
      continue;
    }
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      denied ??= c;
    }
  }
  if (denied) fail(`exec container process \`${denied}\`: Permission denied`);
  return fail(`executable file \`${name}\` not found in $PATH: No such file or directory`);
}

/** Leaves the annotations' failures of later commands where the front finds them. */
function saveInjectedFailures(annotations: Record<string, string>): void {
  for (const [key, value] of Object.entries(annotations)) {
    const m = ANNOTATION.exec(key);
    if (!m || m[2] === 'create') continue;
    if (m[1] === 'crash') writeFileSync(join(dir, `crash-${m[2]}`), '');
    else {
      writeFileSync(join(dir, `fail-${m[2]}`), `${value}\n`);
      writeFileSync(join(dir, `fail-${m[2]}.json`), logLine(value));
    }
  }
}

async function create(): Promise<void> {
  const bundle = resolve(option('--bundle', '-b') ?? '.');
  const config = readJson<Config>(join(bundle, 'config.json'), 'config.json');
  const annotations = config.annotations ?? {};
  if ('fake-crun/crash-create' in annotations) process.kill(process.pid, 'SIGKILL');
  if (annotations['fake-crun/fail-create'] !== undefined) fail(annotations['fake-crun/fail-create']);
  if (existsSync(join(dir, 'pid'))) fail(`container \`${id}\` already exists`);
  if (opts.has('--console-socket')) fail('the fake crun has no terminals (--console-socket)');
  if (!Array.isArray(config.process?.args) || config.process.args.length === 0) fail('config.json: process.args is empty');
  const exe = executable(config.process);
  for (const ns of config.linux?.namespaces ?? []) {
    if (ns.path && !existsSync(ns.path)) fail(`open \`${ns.path}\`: No such file or directory`);
  }
  mkdirSync(dir, { recursive: true });
  const gate = join(dir, 'exec.fifo');
  const mkfifo = spawn('mkfifo', ['-m', '0600', gate], { stdio: 'ignore' });
  if ((await new Promise((done) => mkfifo.once('exit', done))) !== 0) fail(`mkfifo \`${gate}\` failed`);
  const supervisor = spawn('/bin/sh', ['-c', SUPERVISOR, process.env.FAKE_CRUN_EXIT_REPORTS ?? '/dev/null', gate, exe, ...config.process.args.slice(1)], {
    cwd: config.process.cwd && existsSync(config.process.cwd) ? config.process.cwd : '/',
    env: envMap(config.process.env ?? []),
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    detached: true,
  });
  const pipe = supervisor.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  let text = '';
  const pid = await new Promise<number>((done) => {
    pipe.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\n')) done(Number(text.trim()));
    });
    pipe.on('end', () => done(0));
  });
  pipe.destroy();
  supervisor.unref();
  if (!pid) fail('the container process did not start');
  const cgroupRoot = process.env.FAKE_CRUN_CGROUP_ROOT;
  if (cgroupRoot && config.linux?.cgroupsPath) {
    const cgroup = join(cgroupRoot, config.linux.cgroupsPath);
    mkdirSync(cgroup, { recursive: true });
    writeFileSync(join(cgroup, 'cgroup.procs'), `${pid}\n`);
    writeFileSync(join(cgroup, 'memory.events'), 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n');
    writeFileSync(join(cgroup, 'memory.max'), 'max\n');
    writeFileSync(join(cgroup, 'pids.max'), 'max\n');
    writeFileSync(join(dir, 'cgroup'), `${cgroup}\n`);
  }
  saveInjectedFailures(annotations);
  writeFileSync(join(dir, 'bundle'), `${bundle}\n`);
  writeFileSync(join(dir, 'status'), 'created\n');
  writeFileSync(join(dir, 'pid'), `${pid}\n`);
  const pidFile = option('--pid-file');
  if (pidFile) writeFileSync(pidFile, String(pid));
}

function exec(): void {
  const s = load();
  if (s.status !== 'running') fail(`container \`${id}\` is not running`);
  if (opts.has('--console-socket')) fail('the fake crun has no terminals (--console-socket)');
  const p = readJson<Process>(option('--process', '-p') ?? fail('exec: --process is required'), 'process');
  const exe = executable(p);
  const child = spawn(exe, p.args.slice(1), {
    argv0: p.args[0],
    cwd: p.cwd && existsSync(p.cwd) ? p.cwd : '/',
    env: envMap(p.env ?? []),
    stdio: 'inherit',
  });
  child.once('error', (err) => fail(`exec: ${err.message}`));
  child.once('spawn', () => {
    const pid = child.pid as number;
    // The front finds running execs by these markers.
    const marker = join(dir, `exec-${pid}`);
    writeFileSync(marker, '');
    if (s.cgroup) appendFileSync(join(s.cgroup, 'cgroup.procs'), `${pid}\n`);
    const pidFile = option('--pid-file');
    // Scheduling can hide the PID file from the manager until the process has exited: this makes it so.
    const late = configOf(stateFile('bundle')).annotations?.['fake-crun/exec-pid-file-at-exit'] !== undefined;
    if (pidFile && !late) writeFileSync(pidFile, String(pid));
    child.once('exit', (code, signal) => {
      if (pidFile && late) writeFileSync(pidFile, String(pid));
      rmSync(marker, { force: true });
      process.exit(code ?? 128 + (signal ? osConstants.signals[signal] : 0));
    });
  });
}

function update(): void {
  const s = load();
  const resources = readJson<{ memory?: { limit?: number }; pids?: { limit?: number } }>(option('--resources', '-r') ?? fail('update: --resources is required'), 'resources');
  if (s.cgroup && resources.memory?.limit !== undefined) writeFileSync(join(s.cgroup, 'memory.max'), `${resources.memory.limit}\n`);
  if (s.cgroup && resources.pids?.limit !== undefined) writeFileSync(join(s.cgroup, 'pids.max'), `${resources.pids.limit}\n`);
  writeFileSync(join(dir, 'resources.json'), JSON.stringify(resources));
}

if (!id) fail(`${command || 'crun'}: a container id is required`);
if (command === 'create') void create();
else if (command === 'exec') exec();
else if (command === 'update') update();
else fail(`unknown command \`${command}\` (the front answers it)`);
