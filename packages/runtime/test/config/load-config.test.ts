import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_SCHEMA_PATH, loadConfig, parseConfig } from '../../src/config/load-config.js';
import { HYPERVISOR_CONFIGS_DIR } from '../../src/util/repo-paths.js';

describe('configuration', () => {
  it('defaults every key', () => {
    const c = loadConfig();
    assert.equal(c.source, 'defaults');
    assert.equal(c.hypervisor.qemu.machineType, 'auto');
    assert.equal(c.hypervisor.qemu.accel, 'auto');
    assert.equal(c.sandbox.defaultMemoryMib, 512);
    assert.equal(c.sandbox.hypervisor, 'qemu');
    assert.equal(c.hypervisor.clh.path, 'cloud-hypervisor');
    assert.deepEqual(c.warnings, []);
    assert.equal(c.agent.dialTimeoutMs, 30_000);
    assert.equal(c.runtime.stateDir, '/run/mayu');
  });

  it('documents every key of the one schema in configuration.toml, in its table, with its default', () => {
    const path = join(HYPERVISOR_CONFIGS_DIR, 'configuration.toml');
    const fromFile = loadConfig(path);
    assert.deepEqual({ ...fromFile, source: '' }, { ...loadConfig(), source: '' });
    const lines = readFileSync(path, 'utf8').split('\n');
    type Node = { properties?: Record<string, Node> };
    const schema = JSON.parse(readFileSync(CONFIG_SCHEMA_PATH, 'utf8')) as Node;
    const tables: [string, Node][] = [
      ['sandbox', schema.properties?.sandbox ?? {}],
      ['hypervisor.qemu', schema.properties?.hypervisor?.properties?.qemu ?? {}],
      ['hypervisor.clh', schema.properties?.hypervisor?.properties?.clh ?? {}],
      ['agent', schema.properties?.agent ?? {}],
      ['runtime', schema.properties?.runtime ?? {}],
    ];
    for (const [table, node] of tables) {
      const start = lines.indexOf(`[${table}]`);
      assert.ok(start >= 0, `[${table}] is missing`);
      const end = lines.findIndex((l, i) => i > start && l.startsWith('['));
      const body = lines.slice(start + 1, end < 0 ? undefined : end);
      for (const key of Object.keys(node.properties ?? {})) {
        const line = body.findIndex((l) => l.startsWith(`${key} = `));
        assert.ok(line > 0, `${table}.${key} is missing from configuration.toml`);
        assert.match(body[line - 1] ?? '', /^#/, `${table}.${key} has no comment above it`);
      }
    }
  });

  it('still loads a configuration of the last release, with a warning naming each new key', () => {
    const old = '[hypervisor.qemu]\ndefault_memory = 1024\nshared_fs = "none"\ncontainer_rootfs = "block"\naccel = "tcg"\n[runtime]\nguest_image_dir = "/img"\n';
    const c = parseConfig(old, '/etc/mayu/configuration.toml');
    assert.equal(c.sandbox.defaultMemoryMib, 1024);
    assert.equal(c.sandbox.sharedFs, 'none');
    assert.equal(c.sandbox.containerRootfs, 'block');
    assert.equal(c.sandbox.guestImageDir, '/img');
    assert.equal(c.hypervisor.qemu.accel, 'tcg');
    assert.deepEqual(c.warnings, [
      '/etc/mayu/configuration.toml: hypervisor.qemu.default_memory is deprecated and will be removed in the next release: use sandbox.default_memory',
      '/etc/mayu/configuration.toml: hypervisor.qemu.shared_fs is deprecated and will be removed in the next release: use sandbox.shared_fs',
      '/etc/mayu/configuration.toml: hypervisor.qemu.container_rootfs is deprecated and will be removed in the next release: use sandbox.container_rootfs',
      '/etc/mayu/configuration.toml: runtime.guest_image_dir is deprecated and will be removed in the next release: use sandbox.guest_image_dir',
    ]);
    assert.throws(() => parseConfig('[sandbox]\ndefault_memory = 1024\n[hypervisor.qemu]\ndefault_memory = 2048\n', 'both.toml'), {
      code: 'ERR_CONFIG_INVALID',
      message: /hypervisor.qemu.default_memory and sandbox.default_memory are both set/,
    });
  });

  it('checks rules between keys, naming them', () => {
    assert.throws(() => parseConfig('[sandbox]\ndefault_vcpus = 9\n', 'c.toml'), /sandbox.default_vcpus: must be at most max_vcpus \(8\) \(got 9\)/);
    assert.throws(() => parseConfig('[hypervisor.qemu]\nrun_as = "1000:1000"\n', 'c.toml'), /hypervisor.qemu.run_as: QEMU serves the 9p share itself/);
    assert.doesNotThrow(() => parseConfig('[sandbox]\nshared_fs = "none"\n[hypervisor.qemu]\nrun_as = "1000:1000"\n', 'c.toml'));
  });

  it('names every bad key and its value', () => {
    const text = '[sandbox]\ndefault_memory = 64\n[hypervisor.qemu]\naccel = "fast"\nbogus = 1\n[agent]\ndial_timeout = "x"\n[runtime]\nstate_dir = "relative"';
    assert.throws(
      () => parseConfig(text, 'my.toml'),
      (err: Error & { code: string; details: { problems: string[] } }) => {
        assert.equal(err.code, 'ERR_CONFIG_INVALID');
        assert.deepEqual(err.details.problems.sort(), [
          'agent.dial_timeout: must be number (got "x")',
          'hypervisor.qemu.accel: must be one of "auto", "kvm", "tcg" (got "fast")',
          'hypervisor.qemu.bogus: unknown key',
          'runtime.state_dir: must match pattern "^/" (got "relative")',
          'sandbox.default_memory: must be >= 128 (got 64)',
        ]);
        assert.match(err.message, /^my\.toml: /);
        return true;
      },
    );
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
