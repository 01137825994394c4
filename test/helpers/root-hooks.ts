import { processesMentioning } from './leftovers.js';

/**
 * Run-wide guard: after every integration test, no VM any test started may
 * still run (factories use /run/mayu-test-* state roots).
 */
export const mochaHooks = {
  afterEach(): void {
    const left = processesMentioning('/run/mayu-test-').filter((p) => p.cmdline.includes('qemu-system'));
    for (const p of left) process.kill(p.pid, 'SIGKILL');
    if (left.length > 0) throw new Error(`QEMU processes left running: ${left.map((p) => p.pid).join(', ')}`);
  },
};
