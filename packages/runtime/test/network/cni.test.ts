import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cniAdd, cniDel, findNetwork } from '../../src/network/cni.js';
import { parseRunNetwork } from '../../src/network/run-network.js';

/**
 * The CNI runner against fake plugins (shell scripts that log how they were
 * called and answer as a plugin would): the order of ADD and DEL, the
 * chained prevResult, port mappings to plugins that take them, and a plugin
 * that fails (what was added is deleted).
 */
describe("CNI: running a network configuration's plugins", () => {
  let dir: string;
  const plugin = (name: string, body: string): void => {
    const path = join(dir, 'bin', name);
    writeFileSync(path, `#!/bin/sh\nin=$(cat)\necho "$CNI_COMMAND ${name} $CNI_CONTAINERID $CNI_NETNS $CNI_IFNAME $in" >> ${join(dir, 'calls.log')}\n${body}\n`);
    chmodSync(path, 0o755);
  };
  const calls = (): string[] => readFileSync(join(dir, 'calls.log'), 'utf8').trim().split('\n');
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mayu-cni-'));
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'conf'));
    writeFileSync(join(dir, 'calls.log'), '');
    plugin('first', `echo '{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]}'`);
    plugin('second', `echo '{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}],"second":true}'`);
    plugin('broken', 'echo \'{"code":11,"msg":"no more addresses"}\'; exit 1');
    writeFileSync(join(dir, 'conf/10-a.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'net-a', plugins: [{ type: 'first' }, { type: 'second', capabilities: { portMappings: true } }] }));
    writeFileSync(join(dir, 'conf/20-b.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'net-b', plugins: [{ type: 'first' }, { type: 'broken' }] }));
    writeFileSync(join(dir, 'conf/30-c.conf'), JSON.stringify({ cniVersion: '0.4.0', name: 'net-c', type: 'first' }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds a network by name in .conflist and single-plugin .conf files, and names what is missing', () => {
    assert.deepEqual(
      findNetwork('net-a', [join(dir, 'conf')]).plugins.map((p) => p.type),
      ['first', 'second'],
    );
    assert.deepEqual(
      findNetwork('net-c', [join(dir, 'conf')]).plugins.map((p) => p.type),
      ['first'],
    );
    assert.throws(() => findNetwork('nope', [join(dir, 'conf')]), { code: 'ERR_INVALID_ARGUMENT', message: /--network: no CNI network named "nope"/ });
  });

  it('ADD runs the plugins in order with the previous result and port mappings where asked; DEL in reverse, even when the configuration file is gone', async () => {
    const conf = findNetwork('net-a', [join(dir, 'conf')]);
    const a = await cniAdd(conf, { containerId: 'c1', netns: '/run/netns/x', portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] }, [join(dir, 'bin')]);
    assert.deepEqual(a.result, { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }], second: true });
    const [first, second] = calls();
    assert.match(first ?? '', /^ADD first c1 \/run\/netns\/x eth0 \{"type":"first","cniVersion":"1.0.0","name":"net-a"\}$/);
    assert.match(second ?? '', /^ADD second .*"prevResult":\{"cniVersion":"1.0.0","ips":\[\{"address":"10.0.0.2\/24"\}\]\}/);
    assert.match(second ?? '', /"runtimeConfig":\{"portMappings":\[\{"hostPort":8080,"containerPort":80,"protocol":"tcp"\}\]\}/);
    assert.doesNotMatch(first ?? '', /runtimeConfig/, 'only to plugins that take port mappings');
    rmSync(join(dir, 'conf'), { recursive: true });
    await cniDel(a, [join(dir, 'bin')]);
    assert.deepEqual(
      calls()
        .slice(2)
        .map((l) => l.split(' ').slice(0, 2).join(' ')),
      ['DEL second', 'DEL first'],
    );
  });

  it('a failing plugin is an error naming the network, the plugin and its message, and what was added is deleted', async () => {
    const conf = findNetwork('net-b', [join(dir, 'conf')]);
    await assert.rejects(cniAdd(conf, { containerId: 'c2', netns: '/run/netns/y' }, [join(dir, 'bin')]), {
      code: 'ERR_INTERNAL',
      message: 'CNI ADD of network net-b (plugin broken): no more addresses',
    });
    assert.deepEqual(
      calls().map((l) => l.split(' ').slice(0, 2).join(' ')),
      ['ADD first', 'ADD broken', 'DEL first'],
    );
    await assert.rejects(cniAdd(findNetwork('net-a', [join(dir, 'conf')]), { containerId: 'c3', netns: '/x' }, [join(dir, 'nowhere')]), {
      code: 'ERR_HOST_CAPABILITY',
      message: /CNI plugin first not found/,
    });
  });

  it('parses --network and --publish, naming what is wrong', () => {
    assert.deepEqual(parseRunNetwork(undefined, []), { kind: 'none' });
    assert.deepEqual(parseRunNetwork('ns:/run/netns/x', []), { kind: 'ns', path: '/run/netns/x' });
    assert.deepEqual(parseRunNetwork('cni:bridge', ['8080:80', '53:53/udp']), {
      kind: 'cni',
      name: 'bridge',
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
        { hostPort: 53, containerPort: 53, protocol: 'udp' },
      ],
    });
    assert.throws(() => parseRunNetwork('host', []), { message: /--network: must be none, ns:PATH or cni:NAME \(got "host"\)/ });
    assert.throws(() => parseRunNetwork('cni:x', ['80']), { message: /--publish: must be HOSTPORT:CONTAINERPORT/ });
    assert.throws(() => parseRunNetwork(undefined, ['80:80']), { message: /--publish: needs --network cni:NAME/ });
  });
});
