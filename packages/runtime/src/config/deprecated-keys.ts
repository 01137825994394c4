import { MayuError } from '@mayu/protocol';

/** Keys that moved, old path → new path (dotted). Old ones keep working for one release, with a warning. */
export const MOVED_KEYS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    [
      'default_vcpus',
      'default_memory',
      'max_vcpus',
      'max_memory',
      'kernel',
      'rootfs',
      'image',
      'initrd',
      'kernel_params',
      'enable_debug',
      'agent_channel',
      'shared_fs',
      'volume_attributes',
      'virtio_fs_daemon',
      'virtio_fs_extra_args',
      'container_rootfs',
    ].map((k) => [`hypervisor.qemu.${k}`, `sandbox.${k}`]),
  ),
  'runtime.guest_image_dir': 'sandbox.guest_image_dir',
  'runtime.container_layer_size': 'sandbox.container_layer_size',
};

type Doc = Record<string, unknown>;

function table(doc: Doc, path: string[]): Doc | undefined {
  let cur: unknown = doc;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Doc)[p];
  }
  return cur !== null && typeof cur === 'object' && !Array.isArray(cur) ? (cur as Doc) : undefined;
}

/**
 * Moves deprecated keys of a parsed document to their new places, so that
 * configuration files written for an earlier release (e.g.
 * /etc/mayu/configuration.toml) keep working. Returns one warning per key
 * moved, naming the new key, and what was moved (so that an error about a
 * moved key can name the key the file has); a key given both ways is an
 * error naming both.
 */
export function migrateDeprecatedKeys(doc: Doc, source: string): { warnings: string[]; moved: Map<string, string> } {
  const warnings: string[] = [];
  /** new key → the deprecated key it was given as. */
  const moved = new Map<string, string>();
  for (const [oldKey, newKey] of Object.entries(MOVED_KEYS)) {
    const oldPath = oldKey.split('.');
    const name = oldPath.pop() as string;
    const from = table(doc, oldPath);
    if (!from || !(name in from)) continue;
    const newPath = newKey.split('.');
    const newName = newPath.pop() as string;
    let to = table(doc, newPath);
    if (!to) {
      if (newPath.length !== 1 || newPath[0] === undefined || newPath[0] in doc) continue;
      to = {};
      doc[newPath[0]] = to;
    }
    if (newName in to) {
      throw new MayuError('ERR_CONFIG_INVALID', `${source}: ${oldKey} and ${newKey} are both set; ${oldKey} is deprecated: keep only ${newKey}`, { details: { source, key: oldKey } });
    }
    to[newName] = from[name];
    delete from[name];
    warnings.push(`${oldKey} is deprecated and will be removed in the next release: use ${newKey}`);
    moved.set(newKey, oldKey);
  }
  return { warnings, moved };
}
