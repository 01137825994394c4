import { randomBytes } from 'node:crypto';
import { release } from 'node:os';
import { parseArgs } from 'node:util';
import { Sandbox, type BootReport } from '@mayu/runtime';
import type { Logger } from 'pino';
import { configFrom, printJson } from './common.js';

function formatBoot(r: BootReport, kept: boolean, shutdownMs: number | null): string {
  const t = r.timings;
  const row = (label: string, ms: number | null): string => `  ${label.padEnd(22)}${ms === null ? '(template)'.padStart(10) : `${ms.toFixed(0).padStart(7)} ms`}`;
  return [
    `guest kernel   ${r.guest.kernelRelease}   (host ${release()})`,
    `agent          ${r.guest.agentVersion} on node ${r.guest.nodeVersion}, ${r.guest.ociRuntime || 'no OCI runtime'}`,
    `channel        ${r.agentEndpoint}`,
    `accel          ${r.accel.accel}: ${r.accel.reason}`,
    `vm             ${r.guest.onlineCpus} vCPU, ${(r.guest.memory.totalBytes / 1048576).toFixed(0)} MiB, pid ${r.pid}`,
    t.restored ? 'restored from a template (ms from QEMU spawn)' : 'boot (ms from QEMU spawn)',
    row('vm running (spawn)', t.spawnMs),
    row('kernel start', t.kernelStartMs),
    row('init start', t.initStartMs),
    row('agent process start', t.agentProcessStartMs),
    row('agent main', t.agentMainMs),
    row('agent listening', t.agentListeningMs),
    row('first rpc', t.firstRpcMs),
    kept ? `kept running: ${r.stateDir} (remove with: mayu rm --force ${r.stateDir.split('/').pop()})` : `shut down in ${shutdownMs?.toFixed(0)} ms`,
  ].join('\n');
}

export async function bootCommand(args: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      id: { type: 'string' },
    },
    strict: true,
  });
  const config = configFrom(values.config);
  // A kept VM outlives this command; any other dies with it, even on SIGKILL.
  const sandbox = Sandbox.create({ id: values.id ?? `boot-${randomBytes(4).toString('hex')}`, config, log, dieWithParent: !values.keep });
  const interrupt = (): void => {
    void sandbox.destroy().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const report = await sandbox.start();
    let shutdownMs: number | null = null;
    if (values.keep) {
      sandbox.detach();
    } else {
      const t0 = performance.now();
      await sandbox.stop();
      shutdownMs = performance.now() - t0;
    }
    if (values.json) {
      printJson({
        id: sandbox.id,
        guest: report.guest,
        agent: { version: report.guest.agentVersion, endpoint: report.agentEndpoint },
        accel: report.accel,
        pid: report.pid,
        stateDir: report.stateDir,
        kept: values.keep,
        timings: { ...report.timings, shutdownMs },
      });
    } else {
      process.stdout.write(`${formatBoot(report, values.keep ?? false, shutdownMs)}\n`);
    }
    return 0;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
