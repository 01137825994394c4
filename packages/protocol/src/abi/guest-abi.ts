/**
 * What the host and the guest must agree on, in one place: the agent's
 * ports, the names of the virtio-serial ports, the share tags and where the
 * guest mounts them, the agent's directories. Changing one of these changes
 * the guest ABI: the guest image must be rebuilt with it.
 */

/** The vsock port the agent serves gRPC on (vsock:// and hvsock:// endpoints). */
export const AGENT_VSOCK_PORT = 1024;

/** The virtio-serial port the agent serves gRPC on when there is no vsock. */
export const AGENT_SERIAL_PORT_NAME = 'agent.channel.0';

/** The virtio console the agent writes its logs to (the first console: hvc0 in the guest). */
export const AGENT_LOG_PORT_NAME = 'agent.log.0';

/**
 * The areas a sandbox shares with its guest: `shared` (root filesystems and
 * read-only volumes, the host's real attributes) and `mapped` (read-write
 * volumes, the guest's attributes kept aside, never real on the host).
 */
export type ShareArea = 'shared' | 'mapped';

/** The 9p / virtio-fs tag of each area. */
export const SHARE_TAGS: Readonly<Record<ShareArea, string>> = { shared: 'mayushared', mapped: 'mayuvolumes' };

/** Where the guest mounts each area. */
export const GUEST_SHARE_DIRS: Readonly<Record<ShareArea, string>> = { shared: '/run/mayu/shared', mapped: '/run/mayu/volumes' };

/** The agent's per-container directory in the guest: /run/mayu/containers/<id>. */
export const GUEST_CONTAINERS_DIR = '/run/mayu/containers';

/** Every path the host gives the guest for a container lies under this. */
export const GUEST_RUN_DIR = '/run/mayu';
