import assert from 'node:assert/strict';
import { clhArgv, clhLaunch } from '../../../src/hypervisor/clh/clh-launch.js';
import { clhPaths } from '../../../src/hypervisor/clh/clh-paths.js';

describe('Cloud Hypervisor launch', () => {
  const paths = clhPaths('/run/mayu/sandboxes/sb1');

  it('takes only its API socket, seccomp and log file (the VM comes through the API)', () => {
    assert.deepEqual(clhArgv({ paths, seccomp: 'true', debug: false }), [
      '--api-socket',
      'path=/run/mayu/sandboxes/sb1/clh/api.sock',
      '--seccomp',
      'true',
      '--log-file',
      '/run/mayu/sandboxes/sb1/clh/clh.log',
    ]);
    assert.deepEqual(clhArgv({ paths, seccomp: 'log', debug: true }).slice(3), ['log', '--log-file', '/run/mayu/sandboxes/sb1/clh/clh.log', '-v']);
  });

  it('goes through setpriv: no capabilities, no_new_privs, parent-death SIGKILL, root or a uid of its own', () => {
    const argv = ['--api-socket', 'path=/x'];
    assert.deepEqual(clhLaunch({ binary: 'cloud-hypervisor', argv, user: null, dieWithParent: true }), {
      file: 'setpriv',
      args: ['--bounding-set=-all', '--inh-caps=-all', '--no-new-privs', '--pdeathsig=KILL', '--', 'cloud-hypervisor', ...argv],
    });
    assert.deepEqual(clhLaunch({ binary: 'ch', argv, user: { uid: 2000000007, gid: 2000000007, groups: [] }, dieWithParent: false }).args, [
      '--reuid=2000000007',
      '--regid=2000000007',
      '--clear-groups',
      '--bounding-set=-all',
      '--inh-caps=-all',
      '--no-new-privs',
      '--',
      'ch',
      ...argv,
    ]);
    assert.deepEqual(clhLaunch({ binary: 'ch', argv, user: { uid: 5, gid: 6, groups: [993] }, dieWithParent: true }).args.slice(0, 3), ['--reuid=5', '--regid=6', '--groups=993']);
  });
});
