import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig, QEMU_SCHEMA_PATH } from '../../src/config/load-config.js';
import { HYPERVISOR_CONFIGS_DIR } from '../../src/util/repo-paths.js';

describe('configuration', () => {
  it('defaults every key', () => {
    const c = loadConfig();
    assert.equal(c.source, 'defaults');
    assert.equal(c.hypervisor.qemu.machineType, 'microvm');
    assert.equal(c.hypervisor.qemu.accel, 'auto');
    assert.equal(c.hypervisor.qemu.defaultMemoryMib, 512);
    assert.equal(c.agent.dialTimeoutMs, 30_000);
    assert.equal(c.runtime.stateDir, '/run/mayu');
  });

  it('documents every key in qemu.toml with the schema default', () => {
    const path = join(HYPERVISOR_CONFIGS_DIR, 'qemu.toml');
    const fromFile = loadConfig(path);
    assert.deepEqual({ ...fromFile, source: '' }, { ...loadConfig(), source: '' });
    const toml = readFileSync(path, 'utf8');
    const schema = JSON.parse(readFileSync(QEMU_SCHEMA_PATH, 'utf8')) as { properties: Record<string, { properties: Record<string, unknown> }> };
    const keys = [
      ...Object.keys((schema.properties.hypervisor?.properties.qemu as { properties: object }).properties),
      ...Object.keys(schema.properties.agent?.properties ?? {}),
      ...Object.keys(schema.properties.runtime?.properties ?? {}),
    ];
    for (const key of keys) {
      const line = toml.split('\n').findIndex((l) => l.startsWith(`${key} = `));
      assert.ok(line > 0, `${key} is missing from qemu.toml`);
      assert.match(toml.split('\n')[line - 1] ?? '', /^#/, `${key} has no comment above it`);
    }
  });

  it('names every bad key and its value', () => {
    const text = '[hypervisor.qemu]\ndefault_memory = 64\naccel = "fast"\nbogus = 1\n[agent]\ndial_timeout = "x"\n[runtime]\nstate_dir = "relative"';
    assert.throws(() => parseConfig(text, 'my.toml'), (err: Error & { code: string; details: { problems: string[] } }) => {
      assert.equal(err.code, 'ERR_CONFIG_INVALID');
      assert.deepEqual(err.details.problems.sort(), [
        'agent.dial_timeout: must be number (got "x")',
        'hypervisor.qemu.accel: must be one of "auto", "kvm", "tcg" (got "fast")',
        'hypervisor.qemu.bogus: unknown key',
        'hypervisor.qemu.default_memory: must be >= 128 (got 64)',
        'runtime.state_dir: must match pattern "^/" (got "relative")',
      ]);
      assert.match(err.message, /^my\.toml: /);
      return true;
    });
  });

  it('rejects unknown sections and bad TOML with a position', () => {
    assert.throws(() => parseConfig('[hypervisor.firecracker]\npath = "x"', 't.toml'), /hypervisor.firecracker: unknown key/);
    assert.throws(() => parseConfig('a = = 1', 't.toml'), { code: 'ERR_CONFIG_INVALID', message: /not valid TOML at line 1, column \d+/ });
  });

  it('reports an unreadable file', () => {
    assert.throws(() => loadConfig('/nonexistent/mayu.toml'), { code: 'ERR_CONFIG_INVALID', message: /cannot read configuration \/nonexistent\/mayu.toml/ });
  });

  it('converts units: seconds to milliseconds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mayu-cfg-'));
    try {
      writeFileSync(join(dir, 'c.toml'), '[agent]\ndial_timeout = 2.5\ncall_timeout = 1\n[runtime]\nstop_timeout = 0\n');
      const c = loadConfig(join(dir, 'c.toml'));
      assert.deepEqual([c.agent.dialTimeoutMs, c.agent.callTimeoutMs, c.runtime.stopTimeoutMs], [2500, 1000, 0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
