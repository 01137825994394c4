/**
 * The part of the OCI runtime spec (config.json) the agent accepts, as a JSON
 * schema. Anything else is refused with the JSON pointer that holds it:
 * hooks (they would run inside the VM, not where the host expects), other
 * platforms' sections, namespace paths (those are host paths), and so on.
 * Guest paths only: the host rewrites its paths before sending a spec.
 */
const stringArray = { type: 'array', items: { type: 'string' } } as const;
const u32 = { type: 'integer', minimum: 0, maximum: 4294967295 } as const;

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
      properties: Object.fromEntries(
        ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'].map((k) => [k, { type: 'array', items: { type: 'string', pattern: '^CAP_[A-Z_]+$' } }]),
      ),
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
    apparmorProfile: { type: 'string' },
    oomScoreAdj: { type: 'integer', minimum: -1000, maximum: 1000 },
    selinuxLabel: { type: 'string' },
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
        seccomp: { type: 'object' },
        sysctl: { type: 'object', additionalProperties: { type: 'string' } },
        maskedPaths: stringArray,
        readonlyPaths: stringArray,
        rootfsPropagation: { enum: ['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable'] },
        mountLabel: { type: 'string' },
        personality: { type: 'object' },
      },
    },
  },
} as const;
