import { spawn } from 'node:child_process';
import { RuntimeCliError } from './errors.js';

/** An OCI hook (config.json "hooks"). */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/**
 * The hooks mayu-runtime runs on the host, in its own namespaces, as the
 * spec says of them: prestart and createRuntime once the container exists
 * (in the VM) and before it starts, poststart after it started, poststop
 * after it is deleted. createContainer and startContainer hooks run in the
 * container's namespaces, which are inside the VM: they are refused.
 */
export const HOST_HOOKS = ['prestart', 'createRuntime', 'poststart', 'poststop'] as const;
export type HostHookPhase = (typeof HOST_HOOKS)[number];
const GUEST_HOOKS = ['createContainer', 'startContainer'];

/** A hook without a timeout gets this long (a hook must not hold a container forever). */
const DEFAULT_HOOK_TIMEOUT_S = 120;

/**
 * Takes the hooks out of a spec (the guest refuses them): those that run on
 * the host, checked, by phase. A hook that would run in the VM, or a
 * malformed one, is an error naming it.
 */
export function takeHooks(spec: Record<string, unknown>): Partial<Record<HostHookPhase, Hook[]>> {
  const raw = spec.hooks;
  delete spec.hooks;
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new RuntimeCliError(`config.json hooks: must be an object, not ${JSON.stringify(raw)}`);
  const out: Partial<Record<HostHookPhase, Hook[]>> = {};
  for (const [phase, list] of Object.entries(raw as Record<string, unknown>)) {
    if (!Array.isArray(list)) throw new RuntimeCliError(`config.json hooks.${phase}: must be an array`);
    if (list.length === 0) continue;
    if (GUEST_HOOKS.includes(phase))
      throw new RuntimeCliError(
        `config.json hooks.${phase}: these hooks run in the container's namespaces, which are inside the VM; mayu-runtime runs only prestart, createRuntime, poststart and poststop hooks (on the host)`,
      );
    if (!(HOST_HOOKS as readonly string[]).includes(phase)) throw new RuntimeCliError(`config.json hooks.${phase}: not a hook phase`);
    out[phase as HostHookPhase] = list.map((h: unknown, i) => checkHook(h, `hooks.${phase}[${i}]`));
  }
  return out;
}

function checkHook(h: unknown, where: string): Hook {
  const o = (h ?? {}) as Record<string, unknown>;
  if (typeof o.path !== 'string' || !o.path.startsWith('/')) throw new RuntimeCliError(`config.json ${where}.path: must be an absolute path, not ${JSON.stringify(o.path)}`);
  const strings = (v: unknown, f: string): string[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new RuntimeCliError(`config.json ${where}.${f}: must be an array of strings`);
    return v;
  };
  if (o.timeout !== undefined && (!Number.isInteger(o.timeout) || (o.timeout as number) <= 0))
    throw new RuntimeCliError(`config.json ${where}.timeout: must be a positive integer, not ${JSON.stringify(o.timeout)}`);
  return { path: o.path, args: strings(o.args, 'args'), env: strings(o.env, 'env'), timeout: o.timeout as number | undefined };
}

/** Runs one hook with the container's state on its stdin; its failure (status, signal, timeout) is an error naming it. */
export function runHook(hook: Hook, state: Record<string, unknown>, phase: string): Promise<void> {
  const timeoutS = hook.timeout ?? DEFAULT_HOOK_TIMEOUT_S;
  return new Promise((resolve, reject) => {
    const [argv0, ...rest] = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
    const env = Object.fromEntries((hook.env ?? []).map((e) => (e.includes('=') ? [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] : [e, ''])));
    const child = spawn(hook.path, rest, { argv0, env, stdio: ['pipe', 'ignore', 'pipe'], cwd: '/' });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify(state));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new RuntimeCliError(`${phase} hook ${hook.path}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const how = signal === 'SIGKILL' ? `did not finish within ${timeoutS} s` : signal ? `was killed by ${signal}` : `exited with status ${code}`;
      reject(new RuntimeCliError(`${phase} hook ${hook.path} ${how}${stderr ? `: ${stderr.trim()}` : ''}`));
    });
  });
}

/**
 * Runs a phase's hooks in order. For prestart and createRuntime the first
 * failure ends it (create fails); for poststart and poststop, as the spec
 * says, a failure is a warning (`onWarning`) and the rest still run.
 */
export async function runHooks(hooks: Partial<Record<HostHookPhase, Hook[]>>, phase: HostHookPhase, state: Record<string, unknown>, onWarning?: (err: unknown) => void): Promise<void> {
  const warnOnly = phase === 'poststart' || phase === 'poststop';
  for (const hook of hooks[phase] ?? []) {
    try {
      await runHook(hook, state, phase);
    } catch (err) {
      if (!warnOnly) throw err;
      onWarning?.(err);
    }
  }
}
