import assert from 'node:assert/strict';
import { anyWire, runtimeOptionsWire } from '@mayu/protocol';
import { bootstrapWire } from '@mayu/protocol/light';
import { configPathFromOptions } from '../src/runtime-options.js';

const who = { id: 'task-1', namespace: 'k8s.io' };
const options = (typeUrl: string, value: Uint8Array): Uint8Array => anyWire.Any.encode({ typeUrl, value: Buffer.from(value) }).finish();

describe('runtime options from containerd', () => {
  it('takes ConfigPath from runtimeoptions.v1.Options', () => {
    const value = runtimeOptionsWire.Options.encode({ typeUrl: '', configPath: '/etc/mayu/pod.toml', configBody: '' }).finish();
    assert.equal(configPathFromOptions(options('runtimeoptions.v1.Options', value), who), '/etc/mayu/pod.toml');
    assert.equal(configPathFromOptions(options('type.googleapis.com/runtimeoptions.v1.Options', value), who), '/etc/mayu/pod.toml');
  });

  it("has no ConfigPath without options, or with another runtime's options", () => {
    assert.equal(configPathFromOptions(new Uint8Array(), who), undefined);
    assert.equal(configPathFromOptions(options('containerd.runc.v1.Options', Buffer.from([0x08, 0x01])), who), undefined);
  });

  it("finds ConfigPath among the extensions of containerd 2.3's BootstrapParams", () => {
    const value = runtimeOptionsWire.Options.encode({ typeUrl: '', configPath: '/etc/mayu/pod.toml', configBody: '' }).finish();
    const params = (instanceId: string, namespace: string): Uint8Array =>
      bootstrapWire.BootstrapParams.encode(
        bootstrapWire.BootstrapParams.fromPartial({
          instanceId,
          namespace,
          containerdVersion: '2.3.0',
          extensions: [
            { value: { typeUrl: 'containerd.io/cri.v1.PodSandboxConfig', value: Buffer.from([0x0a, 0x00]) } },
            { value: { typeUrl: 'runtimeoptions.v1.Options', value: Buffer.from(value) } },
          ],
        }),
      ).finish();
    assert.equal(configPathFromOptions(params('task-1', 'k8s.io'), who), '/etc/mayu/pod.toml');
    assert.equal(
      configPathFromOptions(bootstrapWire.BootstrapParams.encode(bootstrapWire.BootstrapParams.fromPartial({ instanceId: 'task-1', namespace: 'k8s.io' })).finish(), who),
      undefined,
      'no options extension',
    );
    // Another task's parameters are not ours: read as an Any, they carry no options.
    assert.equal(configPathFromOptions(params('task-2', 'k8s.io'), who), undefined);
  });

  it('refuses bytes that are not options, saying so', () => {
    assert.throws(() => configPathFromOptions(Buffer.from([0x0a, 0xff, 0xff]), who), /runtime options from containerd: not a protobuf Any/);
    assert.throws(() => configPathFromOptions(options('runtimeoptions.v1.Options', Buffer.from([0x12, 0x7f])), who), /runtimeoptions\.v1\.Options does not decode/);
  });
});
