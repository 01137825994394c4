/**
 * The part of the OCI runtime spec (config.json) the agent accepts, as a JSON
 * schema. Anything else is refused with the JSON pointer that holds it:
 * hooks (they would run inside the VM, not where the host expects), other
 * platforms' sections, namespace paths (those are host paths), a seccomp
 * notify listener (there is no seccomp agent in the guest), and so on.
 * Guest paths only: the host rewrites its paths before sending a spec.
 */
const stringArray = { type: 'array', items: { type: 'string' } } as const;
const u32 = { type: 'integer', minimum: 0, maximum: 4294967295 } as const;
/** A uint64 (JSON numbers past 2^53 are not exact in JavaScript: the schema cannot do better). */
const u64 = { type: 'integer', minimum: 0 } as const;

/**
 * Something the OCI spec allows but a mayu guest cannot do. A schema node's
 * `refused` is the reason validate-spec.ts reports when the node's `not`
 * fails (ajv ignores the keyword itself); here `not: {}` fails on any value.
 */
const refused = (reason: string) => ({ not: {}, refused: reason }) as const;

/**
 * A host security label: the guest kernel has no AppArmor or SELinux, so a
 * non-empty one cannot be honoured and is refused (the host drops them
 * first only when runtime.lsm_labels = "drop").
 */
const noLsm = (lsm: string) => ({ type: 'string', not: { pattern: '[\\s\\S]' }, refused: `the guest kernel has no ${lsm}: a container cannot be confined by it in a mayu guest` }) as const;

const NO_SECCOMP_AGENT = 'seccomp notifications go to a listener socket on the host, and mayu runs no seccomp agent in the guest to receive them';

/** The runtime spec's values (config-linux.md, "Seccomp"). */
// prettier-ignore
const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
] as const;
// prettier-ignore
const SECCOMP_ARCHITECTURES = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB',
] as const;
const SECCOMP_FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] as const;
const SECCOMP_OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;

/** An action: one of the spec's, but not SCMP_ACT_NOTIFY. */
const seccompAction = {
  enum: SECCOMP_ACTIONS,
  not: { const: 'SCMP_ACT_NOTIFY' },
  refused: `SCMP_ACT_NOTIFY is not supported in a mayu guest: ${NO_SECCOMP_AGENT}`,
} as const;

/** linux.seccomp: the runtime spec's LinuxSeccomp, without a notify listener. */
const SECCOMP_SCHEMA = {
  type: 'object',
  required: ['defaultAction'],
  additionalProperties: false,
  properties: {
    defaultAction: seccompAction,
    defaultErrnoRet: u32,
    architectures: { type: 'array', items: { enum: SECCOMP_ARCHITECTURES } },
    flags: { type: 'array', items: { enum: SECCOMP_FLAGS } },
    listenerPath: refused(`is not supported in a mayu guest: ${NO_SECCOMP_AGENT}`),
    listenerMetadata: refused(`is not supported in a mayu guest: it is for a seccomp notify listener, and ${NO_SECCOMP_AGENT}`),
    syscalls: {
      type: 'array',
      items: {
        type: 'object',
        required: ['names', 'action'],
        additionalProperties: false,
        properties: {
          names: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[a-z0-9_]+$' } },
          action: seccompAction,
          errnoRet: u32,
          // crun reads at most six conditions and drops the rest, which
          // would widen the rule: refuse more (a syscall has six arguments).
          args: {
            type: 'array',
            maxItems: 6,
            items: {
              type: 'object',
              required: ['index', 'value', 'op'],
              additionalProperties: false,
              properties: { index: { type: 'integer', minimum: 0, maximum: 5 }, value: u64, valueTwo: u64, op: { enum: SECCOMP_OPERATORS } },
            },
          },
        },
      },
    },
  },
} as const;

export const PROCESS_SCHEMA = {
  type: 'object',
  required: ['args', 'cwd'],
  additionalProperties: false,
  properties: {
    terminal: { type: 'boolean' },
    consoleSize: { type: 'object', additionalProperties: false, required: ['height', 'width'], properties: { height: u32, width: u32 } },
    user: {
      type: 'object',
      additionalProperties: false,
      required: ['uid', 'gid'],
      properties: { uid: u32, gid: u32, umask: u32, additionalGids: { type: 'array', items: u32 }, username: { type: 'string' } },
    },
    args: { type: 'array', minItems: 1, items: { type: 'string' } },
    env: { type: 'array', items: { type: 'string', pattern: '^[^=]+=' } },
    cwd: { type: 'string', pattern: '^/' },
    capabilities: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(['bounding', 'effective', 'inheritable', 'permitted', 'ambient'].map((k) => [k, { type: 'array', items: { type: 'string', pattern: '^CAP_[A-Z_]+$' } }])),
    },
    rlimits: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'hard', 'soft'],
        properties: { type: { type: 'string', pattern: '^RLIMIT_[A-Z]+$' }, hard: { type: 'integer', minimum: 0 }, soft: { type: 'integer', minimum: 0 } },
      },
    },
    noNewPrivileges: { type: 'boolean' },
    apparmorProfile: noLsm('AppArmor'),
    oomScoreAdj: { type: 'integer', minimum: -1000, maximum: 1000 },
    selinuxLabel: noLsm('SELinux'),
  },
} as const;

const mount = {
  type: 'object',
  required: ['destination'],
  additionalProperties: false,
  properties: {
    destination: { type: 'string', pattern: '^/' },
    type: { type: 'string' },
    source: { type: 'string' },
    options: stringArray,
  },
} as const;

export const SPEC_SCHEMA = {
  type: 'object',
  required: ['ociVersion', 'process', 'root'],
  additionalProperties: false,
  properties: {
    ociVersion: { type: 'string', pattern: '^1\\.' },
    process: PROCESS_SCHEMA,
    root: {
      type: 'object',
      required: ['path'],
      additionalProperties: false,
      properties: { path: { type: 'string', pattern: '^/run/mayu/' }, readonly: { type: 'boolean' } },
    },
    hostname: { type: 'string', pattern: '^.{0,64}$' },
    domainname: { type: 'string', pattern: '^.{0,64}$' },
    mounts: { type: 'array', items: mount },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
    linux: {
      type: 'object',
      additionalProperties: false,
      properties: {
        namespaces: {
          type: 'array',
          items: {
            type: 'object',
            required: ['type'],
            additionalProperties: false,
            properties: { type: { enum: ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] } },
          },
        },
        uidMappings: { type: 'array' },
        gidMappings: { type: 'array' },
        devices: { type: 'array' },
        cgroupsPath: { type: 'string' },
        resources: { type: 'object' },
        seccomp: SECCOMP_SCHEMA,
        sysctl: { type: 'object', additionalProperties: { type: 'string' } },
        maskedPaths: stringArray,
        readonlyPaths: stringArray,
        rootfsPropagation: { enum: ['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable'] },
        mountLabel: noLsm('SELinux'),
        personality: { type: 'object' },
      },
    },
  },
} as const;
