import assert from 'node:assert/strict';
import { AGENT_MEMORY_RESERVE, containersMemoryMax } from '../../src/system/cgroups.js';

describe("the containers' memory cap in the guest", () => {
  it('keeps a quarter of guest memory for the agent, at most 128 MiB', () => {
    const MiB = 1048576;
    assert.equal(containersMemoryMax(490 * MiB), 490 * MiB - Math.floor((490 * MiB) / 4));
    assert.equal(containersMemoryMax(4096 * MiB), 4096 * MiB - AGENT_MEMORY_RESERVE);
    assert.equal(AGENT_MEMORY_RESERVE, 128 * MiB);
  });
});
