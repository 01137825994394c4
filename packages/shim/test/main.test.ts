import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SHIM_BIN = fileURLToPath(new URL('../../bin/containerd-shim-mayu-v2.js', import.meta.url));

function runShim(args: string[], input: Buffer = Buffer.alloc(0), cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SHIM_BIN, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('containerd-shim-mayu-v2 binary', () => {
  it('-v prints its version and runtime type', async () => {
    const r = await runShim(['-v']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^containerd-shim-mayu-v2:\n {2}Version: \d+\.\d+\.\d+\n {2}Runtime: io\.containerd\.mayu\.v2\n$/);
  });

  it('an unknown action exits 2 and says which actions exist', async () => {
    const r = await runShim(['-id', 'x', 'frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown action "frobnicate" \(start, delete\)/);
  });

  it('start refuses malformed runtime options on stdin, prints no address and starts no server', async () => {
    const bundle = mkdtempSync(join(tmpdir(), 'mayu-bundle-'));
    try {
      const r = await runShim(['-namespace', 'unit', '-address', join(bundle, 'none.sock'), '-id', `t${process.pid}`, 'start'], Buffer.from([0x0a, 0xff, 0xff]), bundle);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /runtime options from containerd: not a protobuf Any/);
    } finally {
      rmSync(bundle, { recursive: true, force: true });
    }
  });
});

describe("start's answer", () => {
  it('is the plain address unless containerd takes the Task API v3 (MAX_SHIM_VERSION >= 3): then the JSON bootstrap naming version 3', async () => {
    const { startAnswer } = await import('../src/start.js');
    const address = 'unix:///run/containerd/s/abc';
    assert.equal(startAnswer(address, undefined), address, 'containerd 1.6');
    assert.equal(startAnswer(address, '2'), address, 'containerd 1.7 to 2.1 announce 2');
    assert.deepEqual(JSON.parse(startAnswer(address, '3')), { version: 3, address, protocol: 'ttrpc' });
  });
});
