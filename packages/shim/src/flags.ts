/** The command line containerd gives a shim (Go flag syntax: -name value, -name=value, -bool). */
export interface ShimFlags {
  namespace: string;
  address: string;
  publishBinary: string;
  id: string;
  bundle: string;
  debug: boolean;
  version: boolean;
  info: boolean;
  /** start, delete, or serve (the long-running server this shim starts for itself). */
  action: string;
}

const STRING_FLAGS: Record<string, keyof ShimFlags> = {
  namespace: 'namespace',
  address: 'address',
  'publish-binary': 'publishBinary',
  id: 'id',
  bundle: 'bundle',
  socket: 'address',
};

export function parseFlags(argv: readonly string[]): ShimFlags {
  const flags: ShimFlags = { namespace: '', address: '', publishBinary: '', id: '', bundle: '', debug: false, version: false, info: false, action: '' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) {
      flags.action = arg;
      continue;
    }
    const [, name = '', inline] = m;
    if (name === 'debug') flags.debug = inline === undefined || inline === 'true';
    else if (name === 'v' || name === 'version') flags.version = true;
    else if (name === 'info') flags.info = true;
    else if (name in STRING_FLAGS) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`flag -${name} needs a value`);
      (flags as unknown as Record<string, string>)[STRING_FLAGS[name] as string] = value;
    }
    // Flags of newer containerd versions that mayu does not use are ignored.
  }
  return flags;
}

/** The argv that starts this shim's own server (`serve`), from the flags containerd gave `start`. */
export function serveArgs(f: ShimFlags, groupId: string): string[] {
  return ['-namespace', f.namespace, '-address', f.address, '-publish-binary', f.publishBinary, '-id', groupId, ...(f.debug ? ['-debug'] : []), 'serve'];
}
