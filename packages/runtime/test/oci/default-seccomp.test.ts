import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { defaultSeccomp, type LinuxSeccomp } from '../../src/oci/default-seccomp.js';
import { DEFAULT_CAPABILITIES } from '../../src/oci/default-spec.js';
import { ALWAYS_ALLOWED, CAPABILITY_ALLOWED, COMPAT32_ALLOWED, COMPAT32_CAPABILITY_ALLOWED, NEVER_ALLOWED } from '../../src/oci/seccomp-syscalls.js';
import { X86_64_SYSCALLS } from './x86-64-syscalls.js';

const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWNS = 0x20000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNET = 0x40000000;
/** What glibc's pthread_create passes. */
const CLONE_THREAD_FLAGS = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x80000 | 0x100000 | 0x200000;
const SIGCHLD = 17;
const AF_INET = 2;
const AF_VSOCK = 40;

/**
 * What the filter does with a call, the way libseccomp builds it: the
 * action of a rule that names the call and whose conditions all hold, else
 * the default. Returns 'allow' or the errno.
 */
function decide(profile: LinuxSeccomp, name: string, args: number[] = []): 'allow' | number {
  for (const rule of profile.syscalls ?? []) {
    if (!rule.names.includes(name)) continue;
    const holds = (rule.args ?? []).every(({ index, value, valueTwo, op }) => {
      const arg = BigInt(args[index] ?? 0);
      if (op === 'SCMP_CMP_EQ') return arg === BigInt(value);
      if (op === 'SCMP_CMP_NE') return arg !== BigInt(value);
      return (arg & BigInt(value)) === BigInt(valueTwo ?? 0);
    });
    if (!holds) continue;
    return rule.action === 'SCMP_ACT_ALLOW' ? 'allow' : (rule.errnoRet ?? profile.defaultErrnoRet ?? EPERM);
  }
  return profile.defaultErrnoRet ?? EPERM;
}

const groupNames = (groups: Readonly<Record<string, readonly string[]>>): string[] => Object.values(groups).flat();
const FILTERED = ['personality', 'socket', 'clone', 'clone3'];
/** Arguments that make a call need its capability (clone without flags is fine for anyone). */
const argsFor = (name: string): number[] => (name === 'clone' ? [CLONE_NEWNS | SIGCHLD] : []);
const refusalFor = (name: string): number => (name === 'clone3' ? ENOSYS : EPERM);

describe('default seccomp profile', () => {
  const profile = defaultSeccomp(DEFAULT_CAPABILITIES);

  it('refuses with EPERM by default, for x86_64 and 32-bit x86 processes', () => {
    assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(profile.defaultErrnoRet, EPERM);
    assert.deepEqual(profile.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  });

  it('is well formed: syscall names, conditions, one rule per allowed name', () => {
    for (const rule of profile.syscalls ?? []) {
      assert.ok(rule.names.length > 0);
      for (const name of rule.names) assert.match(name, /^[a-z0-9_]+$/);
      for (const arg of rule.args ?? []) {
        assert.ok(Number.isInteger(arg.index) && arg.index >= 0 && arg.index <= 5);
        assert.ok(Number.isInteger(arg.value) && arg.value >= 0 && arg.value <= 0xffffffff);
      }
      if (rule.errnoRet !== undefined) assert.equal(rule.action, 'SCMP_ACT_ERRNO');
    }
    const [plain] = profile.syscalls ?? [];
    assert.equal(new Set(plain?.names).size, plain?.names.length, 'no duplicate names');
  });

  it('allows no name both unconditionally and in a refusal', () => {
    const rules = profile.syscalls ?? [];
    const plain = new Set(rules.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));
    const refused = [...rules.filter((r) => r.action !== 'SCMP_ACT_ALLOW').flatMap((r) => r.names), ...groupNames(NEVER_ALLOWED)];
    assert.deepEqual(
      refused.filter((n) => plain.has(n)),
      [],
    );
    const always = new Set([...groupNames(ALWAYS_ALLOWED), ...COMPAT32_ALLOWED]);
    const gated = [...groupNames(CAPABILITY_ALLOWED), ...groupNames(COMPAT32_CAPABILITY_ALLOWED), ...groupNames(NEVER_ALLOWED), ...FILTERED];
    assert.deepEqual(
      gated.filter((n) => always.has(n)),
      [],
      'a gated or filtered name is also always allowed',
    );
  });

  it('refuses what needs a capability the container lacks', () => {
    // prettier-ignore
    const refused = [
      'keyctl', 'add_key', 'request_key', 'kexec_load', 'kexec_file_load', 'mount', 'umount2', 'unshare', 'setns', 'pivot_root',
      'bpf', 'perf_event_open', 'init_module', 'finit_module', 'delete_module', 'reboot', 'open_by_handle_at', 'swapon',
      'settimeofday', 'clock_settime', 'iopl', 'ioperm', 'syslog', 'acct', 'userfaultfd', 'kcmp', 'io_uring_setup',
      'io_uring_enter', 'move_pages', 'lookup_dcookie', 'quotactl', 'nfsservctl', 'vm86', 'mbind', 'vhangup', 'fsopen',
    ];
    for (const name of refused) assert.equal(decide(profile, name), EPERM, name);
    assert.equal(decide(profile, 'clone', [CLONE_NEWUSER | SIGCHLD]), EPERM);
    assert.equal(decide(profile, 'clone', [CLONE_NEWNET]), EPERM);
    assert.equal(decide(profile, 'clone3'), ENOSYS, 'clone3 says ENOSYS so that libc falls back to clone');
    assert.equal(decide(profile, 'socket', [AF_VSOCK, 1, 0]), EPERM);
    assert.equal(decide(profile, 'personality', [0x0040000]), EPERM, 'ADDR_NO_RANDOMIZE');
  });

  it('allows what ordinary programs do', () => {
    // prettier-ignore
    const allowed = [
      'read', 'write', 'openat', 'close', 'execve', 'exit_group', 'futex', 'epoll_wait', 'epoll_pwait', 'mmap', 'brk',
      'rt_sigaction', 'clock_gettime', 'getrandom', 'accept4', 'sendmsg', 'wait4', 'setuid', 'chroot', 'statx', 'prctl',
      'ptrace', 'process_vm_readv', 'adjtimex', 'fchmodat2', 'rseq', 'pidfd_open', 'memfd_create', 'io_submit', 'mknodat',
    ];
    for (const name of allowed) assert.equal(decide(profile, name), 'allow', name);
    assert.equal(decide(profile, 'clone', [CLONE_THREAD_FLAGS]), 'allow', 'threads');
    assert.equal(decide(profile, 'clone', [SIGCHLD]), 'allow', 'fork');
    assert.equal(decide(profile, 'socket', [AF_INET, 1, 0]), 'allow');
    for (const persona of [0x0, 0x8, 0x20000, 0x20008, 0xffffffff]) assert.equal(decide(profile, 'personality', [persona]), 'allow');
    for (const name of ['chown32', '_llseek', 'socketcall', 'clock_gettime64']) assert.equal(decide(profile, name), 'allow', name);
  });

  it('CAP_SYS_ADMIN unlocks mounts and namespaces, not the keyring or kexec', () => {
    const admin = defaultSeccomp([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
    for (const name of ['mount', 'umount2', 'unshare', 'setns', 'pivot_root', 'clone3', 'bpf', 'umount']) assert.equal(decide(admin, name), 'allow', name);
    assert.equal(decide(admin, 'clone', [CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD]), 'allow');
    for (const name of ['keyctl', 'kexec_load', 'init_module', 'io_uring_setup', 'reboot']) assert.equal(decide(admin, name), EPERM, name);
  });

  it('each capability unlocks its own calls and no others', () => {
    const none = defaultSeccomp([]);
    for (const table of [CAPABILITY_ALLOWED, COMPAT32_CAPABILITY_ALLOWED]) {
      for (const [cap, names] of Object.entries(table)) {
        const granted = defaultSeccomp([cap]);
        for (const name of names) {
          assert.equal(decide(none, name, argsFor(name)), refusalFor(name), `${name} without ${cap}`);
          assert.equal(decide(granted, name, argsFor(name)), 'allow', `${name} with ${cap}`);
        }
      }
    }
    assert.equal(decide(defaultSeccomp(['CAP_BPF']), 'mount'), EPERM);
    assert.equal(decide(defaultSeccomp(['CAP_SYS_PTRACE']), 'open_by_handle_at'), EPERM);
  });

  it('names only calls that exist: x86_64 ones, and 32-bit x86 ones kept apart', () => {
    const x86_64 = new Set(X86_64_SYSCALLS);
    const native = [...groupNames(ALWAYS_ALLOWED), ...groupNames(CAPABILITY_ALLOWED), ...FILTERED];
    assert.deepEqual(
      native.filter((n) => !x86_64.has(n)),
      [],
      'not x86_64 system calls',
    );
    const compat = [...COMPAT32_ALLOWED, ...groupNames(COMPAT32_CAPABILITY_ALLOWED)];
    assert.deepEqual(
      compat.filter((n) => x86_64.has(n)),
      [],
      'x86_64 calls among the 32-bit-only names',
    );
    const every = new Set([...native, ...compat]);
    const all = defaultSeccomp(Object.keys(CAPABILITY_ALLOWED));
    assert.deepEqual(
      all.syscalls?.flatMap((r) => r.names).filter((n) => !every.has(n)),
      [],
    );
  });

  it('the list of x86_64 calls covers the installed kernel headers', function () {
    const header = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
    if (!existsSync(header)) this.skip();
    const installed = [...readFileSync(header, 'utf8').matchAll(/^#define __NR_(\w+) \d+$/gm)].map((m) => m[1]);
    assert.ok(installed.length > 300);
    assert.deepEqual(
      installed.filter((n) => !X86_64_SYSCALLS.includes(n)),
      [],
    );
  });
});
