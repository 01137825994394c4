import { AF_VSOCK, ALWAYS_ALLOWED, CAPABILITY_ALLOWED, CLONE_NAMESPACE_FLAGS, COMPAT32_ALLOWED, COMPAT32_CAPABILITY_ALLOWED, SAFE_PERSONALITIES } from './seccomp-syscalls.js';

/** OCI runtime-spec `linux.seccomp` (the fields this profile uses). */
export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: LinuxSyscall[];
}

export type SeccompAction = 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_KILL_PROCESS' | 'SCMP_ACT_LOG';

export interface LinuxSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  /** Conditions on the arguments, all of which must hold. */
  args?: { index: number; value: number; valueTwo?: number; op: 'SCMP_CMP_EQ' | 'SCMP_CMP_NE' | 'SCMP_CMP_MASKED_EQ' }[];
}

const EPERM = 1;
const ENOSYS = 38;

/**
 * mayu's default seccomp profile for a container with these capabilities
 * (its bounding set): anything not allowed fails with EPERM. The effect is
 * that of Docker's default profile (see seccomp-syscalls.ts for the groups
 * and why), for x86_64 processes and 32-bit x86 ones.
 *
 * Without CAP_SYS_ADMIN, clone may not create namespaces (its flags are
 * argument 0, so a mask filter can see them) and clone3 fails with ENOSYS
 * (its flags sit in memory a filter cannot read): libc then falls back to
 * clone.
 */
export function defaultSeccomp(capabilities: Iterable<string>): LinuxSeccomp {
  const caps = new Set(capabilities);
  const allowed = new Set<string>([...Object.values(ALWAYS_ALLOWED).flat(), ...COMPAT32_ALLOWED]);
  for (const table of [CAPABILITY_ALLOWED, COMPAT32_CAPABILITY_ALLOWED]) {
    for (const [cap, names] of Object.entries(table)) if (caps.has(cap)) names.forEach((n) => allowed.add(n));
  }
  const syscalls: LinuxSyscall[] = [
    { names: [...allowed].sort(), action: 'SCMP_ACT_ALLOW' },
    ...SAFE_PERSONALITIES.map((value): LinuxSyscall => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] })),
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] },
  ];
  if (!caps.has('CAP_SYS_ADMIN')) {
    syscalls.push(
      // (flags & CLONE_NAMESPACE_FLAGS) == 0
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    );
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls,
  };
}
