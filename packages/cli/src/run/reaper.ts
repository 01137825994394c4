import { isMayuError } from '@mayu/protocol';
import { removeSandbox, tearDownRunNetwork, type RuntimeConfig } from '@mayu/runtime';
import type { Logger } from 'pino';
import { listRuns, ownerAlive, runDir, updateRun, type RunRecord } from './run-records.js';

/** A run whose owner (the attached `mayu run`, or its monitor) died without finishing it: killed, or crashed. */
export function isOrphaned(r: RunRecord): boolean {
  return (r.status === 'starting' || r.status === 'running') && !ownerAlive(r);
}

/**
 * Cleans up after runs whose owner was killed (SIGKILL leaves no chance to
 * clean up). Their VM is already gone — QEMU gets SIGKILL when its parent
 * dies — but the sandbox's host mounts, state directory and network (taps,
 * a CNI attachment, a network namespace) are left: they are removed here (killing the VM first if it is somehow still there), and
 * the run is recorded as failed, so that `mayu ps -a` tells what happened.
 * Runs at the start of `mayu run` and `mayu ps`; returns the ids it reaped.
 */
export async function reapOrphanedRuns(config: RuntimeConfig, log: Logger): Promise<string[]> {
  const reaped: string[] = [];
  for (const r of listRuns(config.runtime.stateDir).filter(isOrphaned)) {
    try {
      await removeSandbox(config, r.id, true);
    } catch (err) {
      if (!isMayuError(err, 'ERR_NOT_FOUND')) {
        log.warn({ err, id: r.id }, 'cannot clean up after a killed run');
        continue;
      }
    }
    await tearDownRunNetwork(r.network);
    updateRun(runDir(config.runtime.stateDir, r.id), {
      status: 'failed',
      error: `its owner (pid ${r.ownerPid ?? '?'}) died before the container ended; its VM and host mounts were removed`,
      ownerPid: null,
      sandboxDir: null,
    });
    log.info({ event: 'run.reaped', id: r.id }, 'cleaned up after a killed run');
    reaped.push(r.id);
  }
  return reaped;
}
