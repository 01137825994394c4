import assert from 'node:assert/strict';
import { formatChaos, runChaos } from '../chaos/chaos.js';

/**
 * The chaos driver's short fixed-seed run (issue 13): two minutes of faults
 * — QEMU killed or stopped, shims killed, tasks killed, guest panics,
 * containerd restarts, OOM-killed execs, exec storms — against a pool of
 * mayu tasks; every invariant holds and nothing is left.
 */
describe('chaos, short fixed seed (real containerd, real VMs)', () => {
  it('seed 7 for 2 minutes: every task exits exactly once, logs are whole, nothing leaks', async function () {
    this.timeout(600_000);
    const lines: string[] = [];
    // At least 8 faults: on a slow host the run goes on past its 2 minutes until they are in.
    const report = await runChaos({ seed: 7, minutes: 2, minFaults: 8, log: (l) => lines.push(l) });
    assert.deepEqual(report.violations, [], `${formatChaos(report)}\n${lines.join('\n')}`);
    assert.ok(Object.values(report.faults).reduce((a, b) => a + b, 0) >= 8, `faults were injected: ${formatChaos(report)}`);
    assert.ok(report.tasksStarted >= 4);
  });
});
