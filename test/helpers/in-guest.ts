import { defaultSpec, type AgentClient, type RunOptions, type Sandbox } from '@mayu/runtime';
import type { ProcessRef } from '@mayu/protocol';
import { testImage } from './test-image.js';

const NO_CONFIG = { entrypoint: [], cmd: [], env: [], workingDir: '', user: '' };

/** Everything a process writes on one stream, until it ends. */
export async function collect(agent: AgentClient, ref: ProcessRef, stream: 'stdout' | 'stderr'): Promise<string> {
  let text = '';
  for (;;) {
    const chunk = await agent.readOutput(ref, stream);
    if (chunk.length === 0) return text;
    text += chunk.toString();
  }
}

/** An OCI spec for the test image running `args` (mayu run's defaults), edited as a test needs. */
export async function imageSpec(args: string[], over: Partial<RunOptions> = {}, edit?: (s: Record<string, unknown>) => void): Promise<Record<string, unknown>> {
  const s = defaultSpec((await testImage()).rootfs, NO_CONFIG, { args, env: [], terminal: false, volumes: [], ...over });
  edit?.(s);
  return s;
}

/** Creates, starts and waits for a container in the sandbox; returns its exit status and output. */
export async function runIn(sandbox: Sandbox, id: string, s: Record<string, unknown>): Promise<{ status: number; stdout: string; stderr: string }> {
  await sandbox.createContainer({ id, spec: s, rootfs: 'image', stdio: { terminal: false, stdin: false } });
  const ref = { containerId: id, execId: '' };
  const out = collect(sandbox.agent, ref, 'stdout');
  const err = collect(sandbox.agent, ref, 'stderr');
  await sandbox.agent.startContainer(id);
  const exit = await sandbox.agent.waitProcess(ref);
  return { status: exit.exitStatus, stdout: await out, stderr: await err };
}
