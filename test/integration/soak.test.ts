import assert from 'node:assert/strict';
import { PrivateContainerd } from '../helpers/containerd.js';
import { leaksBetween, resourcesOf } from '../soak/resources.js';
import { streamThroughEveryPath } from '../soak/streams.js';
import { concurrentPods, criPodCycles, ctrRunCycles, execsIntoOnePod, formatReport, problemsOf, SOAK_RUNTIME_TOML, warmUp, type ScenarioReport } from '../soak/scenarios.js';

/**
 * The short soak (issue 13): a few cycles of each scenario `npm run soak`
 * runs long, each followed by a leak check — processes, mounts, shim
 * sockets, fifos, task and state dirs, netns, loop devices, links,
 * containerd's fds — and a memory trend check.
 */
describe('soak, short: ctr run cycles, CRI pod cycles, execs into one pod, concurrent pods — nothing leaks (real containerd, real VMs)', function () {
  let ctrd: PrivateContainerd;
  let failed: string | undefined;
  before(async function () {
    this.timeout(600_000);
    ctrd = await PrivateContainerd.start({ runtimeToml: SOAK_RUNTIME_TOML });
    await warmUp(ctrd);
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed ??= this.currentTest.fullTitle();
  });
  after(async () => {
    await ctrd?.stop(failed);
  });

  const check = (r: ScenarioReport): void => {
    assert.deepEqual(problemsOf(r), [], formatReport(r));
  };

  it('12 ctr run --rm cycles', async function () {
    this.timeout(300_000);
    check(await ctrRunCycles(ctrd, 12));
  });

  it('6 CRI pod cycles (RunPodSandbox → Create → Start → ExecSync → Stop → Remove)', async function () {
    this.timeout(300_000);
    check(await criPodCycles(ctrd, 6));
  });

  it('80 ExecSyncs into one pod (stdout, stderr and exit code of each; shim, QEMU and agent RSS sampled)', async function () {
    this.timeout(300_000);
    const r = await execsIntoOnePod(ctrd, 80);
    check(r);
    assert.ok(Number.isFinite(r.trends['agent RSS (in the guest)']?.lastMib), "the agent's RSS was read from the guest");
  });

  it('4 pods created and deleted concurrently', async function () {
    this.timeout(300_000);
    check(await concurrentPods(ctrd, 4));
  });

  it('16 MiB of numbered lines through ctr stdout and stdin, a CRI file log, and mayu run stdout and stdin: byte-exact (sha256), nothing leaks', async function () {
    this.timeout(600_000);
    const before = resourcesOf(ctrd);
    const results = await streamThroughEveryPath(ctrd, 16);
    assert.deepEqual(
      results.map((r) => r.path),
      ['ctr stdout (FIFO)', 'ctr stdin (FIFO)', 'CRI file log', 'mayu run stdout (pipe)', 'mayu run -i stdin (pipe)'],
    );
    await ctrd.settle(60_000);
    assert.deepEqual(leaksBetween(before, resourcesOf(ctrd)), []);
  });
});
