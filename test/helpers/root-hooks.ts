import { rmSync } from 'node:fs';
import { TEST_TEMPLATE_DIR } from './guest-factory.js';
import { processesMentioning } from './leftovers.js';

/**
 * Run-wide guard: after every integration test, no VM any test started may
 * still run (factories use /run/mayu-test-* state roots, and templates live
 * in TEST_TEMPLATE_DIR). After the run, the run's VM templates go.
 */
export const mochaHooks = {
  afterEach(): void {
    const left = processesMentioning('/run/mayu-test-').filter((p) => p.cmdline.includes('qemu-system'));
    for (const p of left) process.kill(p.pid, 'SIGKILL');
    if (left.length > 0) throw new Error(`QEMU processes left running: ${left.map((p) => p.pid).join(', ')}`);
  },
  afterAll(): void {
    rmSync(TEST_TEMPLATE_DIR, { recursive: true, force: true });
  },
};
