export const USAGE = `usage: mayu <command> [options]

Exit status: 0 success; 2 a usage error; 125 mayu itself failed; for run and
exec, the container process's own status (128+N when killed by signal N).

commands:
  boot [--config FILE] [--json] [--keep] [--id ID]
        boot a sandbox VM, ask its agent who it is, print the guest kernel,
        agent version and boot-time breakdown, then shut it down (unless --keep)
  check [--config FILE] [--json]
        report what this host offers (KVM, vhost-vsock, QEMU, guest image)
  run [--rm] [-d] [-i] [-t] [-e K=V]... [-v SRC:DST[:ro][,rslave]]... [-w DIR] [-u UID[:GID]]
      [--name ID] [--read-only] [--security-opt seccomp=unconfined] [-m SIZE] [--cpus N]
      [--network none|ns:PATH|cni:NAME] [-p HOSTPORT:CTRPORT[/tcp|udp]]...
      [--config FILE] IMAGE [--] [CMD...]
        run a container in its own micro-VM; IMAGE is an OCI image layout
        directory, an OCI archive (.tar) or a root filesystem directory; the
        exit status is the container's. It gets a default seccomp profile
        (Docker's, in effect) unless --security-opt seccomp=unconfined.
        --network: none (default: lo only), an existing network namespace,
        or a CNI network from /etc/cni/net.d ($MAYU_CNI_CONF_DIR) whose
        namespace mayu makes and removes with the container.
        -m/--memory (512m, 1g) and --cpus (1.5) limit the container as
        Docker's do, and the VM gets them on top of its default size
  run --bundle DIR [-d] [-i] [-t] ID
        run an OCI bundle (DIR/config.json and its rootfs), as runc does
  exec [-i] [-t] [-e K=V]... [-w DIR] [-u USER] ID -- CMD...
        run a command in a running container
  ps [-a] [--json]      running containers (-a: also exited ones) and kept sandboxes
  kill ID [SIGNAL]      signal a container's main process (default KILL)
  logs ID               what a container wrote (stdout, stderr)
  rm [-f] ID...         remove containers (-f: running ones too) or kept sandboxes
  template build [--nics N] [--mtu M] [--vcpus N] [--memory MIB] [--config FILE]
        build (or find) the VM template sandboxes of that shape start from
        (--nics: a pod's, with N network interfaces); prints its key
  template ls [--json]  the VM templates, their size and whether they are stale
  template rm KEY...|--stale|--all

environment:
  MAYU_LOG_LEVEL     log level of the JSON logs on stderr (default warn)
  MAYU_CONFIG        configuration file when --config is not given
`;

/** A command-line mistake: printed with the usage, exit status 2. */
export class UsageError extends Error {}
