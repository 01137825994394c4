export const USAGE = `usage: mayu <command> [options]

commands:
  boot [--config FILE] [--json] [--keep] [--id ID]
        boot a sandbox VM, ask its agent who it is, print the guest kernel,
        agent version and boot-time breakdown, then shut it down (unless --keep)
  check [--config FILE] [--json]
        report what this host offers (KVM, vhost-vsock, QEMU, guest image)
  ps [--config FILE] [--json]
        list sandboxes and whether their VM runs
  rm [--force] [--config FILE] ID
        remove a sandbox left running by boot --keep

environment:
  MAYU_LOG_LEVEL     log level of the JSON logs on stderr (default warn)
  MAYU_CONFIG        configuration file when --config is not given
`;

/** A command-line mistake: printed with the usage, exit status 2. */
export class UsageError extends Error {}
