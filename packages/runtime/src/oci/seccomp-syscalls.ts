/**
 * The system calls of mayu's default seccomp profile, by what they are for.
 * default-seccomp.ts turns these groups into an OCI `linux.seccomp`; the
 * tests check them (names that exist, no name both allowed and refused).
 *
 * The effect is that of Docker's default profile: what an ordinary program
 * needs is allowed; what reaches kernel state shared by the whole VM (the
 * keyring, modules, the clock, mounts, namespaces) or is a known large attack
 * surface (io_uring) is refused with EPERM, unless the container holds the
 * capability that the kernel would check anyway. The names are x86_64 ones;
 * COMPAT32_* hold the extra names 32-bit (i386) processes use.
 */

/** Allowed to every container, whatever its capabilities. */
// prettier-ignore
export const ALWAYS_ALLOWED = {
  /** Reading, writing and syncing open files, pipes and descriptors (ioctl too: device access is the device cgroup's job). */
  fileIo: [
    'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'preadv2', 'pwritev', 'pwritev2', 'lseek',
    'close', 'close_range', 'dup', 'dup2', 'dup3', 'fcntl', 'flock', 'ioctl', 'pipe', 'pipe2',
    'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'fadvise64', 'readahead', 'fallocate', 'ftruncate', 'truncate',
    'sendfile', 'splice', 'tee', 'vmsplice', 'copy_file_range', 'cachestat',
  ],
  /** Naming, opening and inspecting files and directories (mknod: CAP_MKNOD and the device cgroup decide). */
  paths: [
    'open', 'openat', 'openat2', 'creat', 'access', 'faccessat', 'faccessat2', 'stat', 'lstat', 'fstat', 'newfstatat', 'statx',
    'statfs', 'fstatfs', 'getcwd', 'chdir', 'fchdir', 'getdents', 'getdents64', 'readlink', 'readlinkat',
    'mkdir', 'mkdirat', 'mknod', 'mknodat', 'rmdir', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat',
    'unlink', 'unlinkat', 'name_to_handle_at',
  ],
  /** Ownership, modes and timestamps of files (the kernel checks CAP_CHOWN, CAP_FOWNER and friends). */
  attributes: [
    'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'fchown', 'lchown', 'fchownat', 'umask',
    'utime', 'utimes', 'utimensat', 'futimesat',
  ],
  /** Extended attributes. */
  xattrs: [
    'getxattr', 'lgetxattr', 'fgetxattr', 'getxattrat', 'setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat',
    'listxattr', 'llistxattr', 'flistxattr', 'listxattrat', 'removexattr', 'lremovexattr', 'fremovexattr', 'removexattrat',
  ],
  /** Waiting for descriptors and events: poll, select, epoll, eventfd, inotify (fanotify_init needs CAP_SYS_ADMIN). */
  events: [
    'poll', 'ppoll', 'select', 'pselect6', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_wait',
    'epoll_wait_old', 'epoll_pwait', 'epoll_pwait2', 'eventfd', 'eventfd2',
    'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch', 'fanotify_mark',
  ],
  /** Linux native AIO. Not io_uring: see NEVER_ALLOWED. */
  asyncIo: ['io_setup', 'io_destroy', 'io_submit', 'io_cancel', 'io_getevents', 'io_pgetevents'],
  /** Address space: mappings, protection keys, locking, memfd (mlock is bounded by RLIMIT_MEMLOCK). */
  memory: [
    'brk', 'mmap', 'munmap', 'mremap', 'mprotect', 'madvise', 'mincore', 'msync', 'remap_file_pages',
    'mlock', 'mlock2', 'mlockall', 'munlock', 'munlockall', 'membarrier', 'memfd_create', 'memfd_secret',
    'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'map_shadow_stack', 'mseal',
  ],
  /** Creating, running and reaping processes (clone is filtered and clone3 refused: see default-seccomp.ts). */
  processes: [
    'fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid',
    'getpid', 'getppid', 'gettid', 'getpgid', 'setpgid', 'getpgrp', 'getsid', 'setsid',
    'pidfd_open', 'pidfd_send_signal', 'process_mrelease', 'prctl', 'arch_prctl', 'seccomp',
    'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self',
  ],
  /** Threads: TLS, robust futex lists, restartable sequences, futexes. */
  threads: [
    'set_tid_address', 'set_robust_list', 'get_robust_list', 'rseq', 'get_thread_area', 'set_thread_area', 'modify_ldt',
    'futex', 'futex_waitv', 'futex_wake', 'futex_wait', 'futex_requeue', 'restart_syscall',
  ],
  /** Reading about the machine and the process. */
  info: ['uname', 'sysinfo', 'times', 'getcpu', 'getrusage', 'getrandom'],
  /** Limits and priorities (raising them is checked by the kernel: CAP_SYS_RESOURCE, CAP_SYS_NICE). */
  limits: [
    'getrlimit', 'setrlimit', 'prlimit64', 'getpriority', 'setpriority', 'ioprio_get', 'ioprio_set',
    'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getattr', 'sched_setattr', 'sched_getparam',
    'sched_setparam', 'sched_getscheduler', 'sched_setscheduler', 'sched_get_priority_max', 'sched_get_priority_min',
    'sched_rr_get_interval',
  ],
  /** User and group ids and capabilities (changing them is checked by the kernel: CAP_SETUID, CAP_SETGID, CAP_SETPCAP). */
  credentials: [
    'getuid', 'geteuid', 'getgid', 'getegid', 'getresuid', 'getresgid', 'getgroups',
    'setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid', 'setfsuid', 'setfsgid', 'setgroups',
    'capget', 'capset',
  ],
  /** Signals. */
  signals: [
    'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigsuspend', 'rt_sigtimedwait',
    'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'sigaltstack', 'signalfd', 'signalfd4', 'kill', 'tkill', 'tgkill', 'pause', 'alarm',
  ],
  /** Clocks, sleeps and timers. adjtimex and clock_adjtime only read unless the caller has CAP_SYS_TIME (a kernel check). */
  time: [
    'time', 'gettimeofday', 'clock_gettime', 'clock_getres', 'clock_nanosleep', 'nanosleep', 'adjtimex', 'clock_adjtime',
    'getitimer', 'setitimer', 'timer_create', 'timer_delete', 'timer_gettime', 'timer_settime', 'timer_getoverrun',
    'timerfd_create', 'timerfd_gettime', 'timerfd_settime',
  ],
  /** Sockets, except socket() itself, which is filtered (no AF_VSOCK: see default-seccomp.ts). */
  sockets: [
    'socketpair', 'bind', 'connect', 'listen', 'accept', 'accept4', 'getsockname', 'getpeername', 'getsockopt', 'setsockopt',
    'sendto', 'sendmsg', 'sendmmsg', 'recvfrom', 'recvmsg', 'recvmmsg', 'shutdown',
  ],
  /** System V and POSIX IPC (namespaced by the container's ipc namespace). */
  ipc: [
    'msgget', 'msgsnd', 'msgrcv', 'msgctl', 'semget', 'semop', 'semtimedop', 'semctl', 'shmget', 'shmat', 'shmdt', 'shmctl',
    'mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedreceive', 'mq_notify', 'mq_getsetattr',
  ],
  /**
   * Tracing: ptrace and cross-process memory access. Docker allows these
   * since kernel 4.8, which stopped a tracer from using them to slip past
   * the tracee's seccomp filter; the kernel's ptrace access checks (same
   * user, dumpable, Yama) still apply. The guest kernel is 6.1.
   */
  tracing: ['ptrace', 'process_vm_readv', 'process_vm_writev'],
} as const satisfies Record<string, readonly string[]>;

/**
 * The names 32-bit x86 processes use for the same things (the i386 ABI's
 * 32-bit-uid, 64-bit-offset and 64-bit-time variants, and the socketcall
 * and ipc multiplexers with their sub-calls). None of them exists on x86_64.
 */
// prettier-ignore
export const COMPAT32_ALLOWED: readonly string[] = [
  '_llseek', '_newselect', 'chown32', 'fchown32', 'lchown32', 'fadvise64_64', 'fcntl64', 'fstat64', 'fstatat64',
  'fstatfs64', 'ftruncate64', 'lstat64', 'mmap2', 'sendfile64', 'stat64', 'statfs64', 'truncate64', 'ugetrlimit', 'waitpid',
  'getuid32', 'geteuid32', 'getgid32', 'getegid32', 'getresuid32', 'getresgid32', 'getgroups32',
  'setuid32', 'setgid32', 'setreuid32', 'setregid32', 'setresuid32', 'setresgid32', 'setfsuid32', 'setfsgid32', 'setgroups32',
  'sigprocmask', 'sigreturn', 'socketcall', 'recv', 'send', 'ipc',
  'clock_adjtime64', 'clock_getres_time64', 'clock_gettime64', 'clock_nanosleep_time64', 'futex_time64',
  'io_pgetevents_time64', 'mq_timedreceive_time64', 'mq_timedsend_time64', 'ppoll_time64', 'pselect6_time64',
  'recvmmsg_time64', 'rt_sigtimedwait_time64', 'sched_rr_get_interval_time64', 'semtimedop_time64',
  'timer_gettime64', 'timer_settime64', 'timerfd_gettime64', 'timerfd_settime64', 'utimensat_time64',
];

/**
 * Allowed only to a container whose capabilities include the key: the
 * kernel would refuse most of these without it anyway, and refusing them
 * here takes their code out of reach of an unprivileged process.
 */
// prettier-ignore
export const CAPABILITY_ALLOWED: Readonly<Record<string, readonly string[]>> = {
  /**
   * Mounts, namespaces, and kernel-wide facilities: the mount API, namespace
   * creation and entry (clone with CLONE_NEW* flags, clone3, unshare, setns),
   * host and domain names, quotas, fanotify, and the older ways (before
   * CAP_BPF, CAP_PERFMON, CAP_SYSLOG) to bpf, perf and the kernel log.
   * Unlike Docker, which refuses them outright, pivot_root and swapon/swapoff
   * are here too: the kernel wants CAP_SYS_ADMIN for them anyway.
   */
  CAP_SYS_ADMIN: [
    'mount', 'umount2', 'mount_setattr', 'move_mount', 'open_tree', 'open_tree_attr', 'fsopen', 'fsconfig', 'fsmount', 'fspick',
    'pivot_root', 'unshare', 'setns', 'clone', 'clone3', 'sethostname', 'setdomainname',
    'quotactl', 'quotactl_fd', 'lookup_dcookie', 'swapon', 'swapoff', 'fanotify_init', 'bpf', 'perf_event_open', 'syslog',
  ],
  /** Loading BPF programs and maps. */
  CAP_BPF: ['bpf'],
  /** Performance counters. */
  CAP_PERFMON: ['perf_event_open'],
  /** Reading and clearing the kernel log. */
  CAP_SYSLOG: ['syslog'],
  /** Restarting or powering off: the whole VM. */
  CAP_SYS_BOOT: ['reboot'],
  /** chroot (in the default capability set). */
  CAP_SYS_CHROOT: ['chroot'],
  /** Kernel modules. */
  CAP_SYS_MODULE: ['init_module', 'finit_module', 'delete_module'],
  /** Process accounting. */
  CAP_SYS_PACCT: ['acct'],
  /**
   * Reaching into other processes beyond ptrace: their descriptors, fd
   * comparison, memory advice. And userfaultfd, a favourite for widening
   * kernel race windows: Docker refuses it outright; the kernel itself wants
   * CAP_SYS_PTRACE for it (unless vm.unprivileged_userfaultfd).
   */
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'userfaultfd'],
  /** x86 I/O port access. */
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  /** Setting the system clock: the VM's, shared by every container in it. */
  CAP_SYS_TIME: ['settimeofday', 'clock_settime'],
  /** Hanging up the terminal. */
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  /** NUMA memory policy. */
  CAP_SYS_NICE: ['get_mempolicy', 'set_mempolicy', 'set_mempolicy_home_node', 'mbind'],
  /** open_by_handle_at: file handles bypass path lookup, the old container escape. */
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
};

/** The 32-bit-only names of capability-gated calls (as in CAPABILITY_ALLOWED). */
// prettier-ignore
export const COMPAT32_CAPABILITY_ALLOWED: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: ['umount'],
  CAP_SYS_TIME: ['stime', 'clock_settime64'],
};

/**
 * Never allowed, whatever the capabilities (the default action refuses
 * them; the list documents why, and tests keep it out of every allow-list).
 */
// prettier-ignore
export const NEVER_ALLOWED: Readonly<Record<string, readonly string[]>> = {
  /** The kernel keyring is not namespaced: keys would be shared with everything else in the VM. */
  keyring: ['keyctl', 'add_key', 'request_key'],
  /** Booting another kernel. */
  kexec: ['kexec_load', 'kexec_file_load'],
  /**
   * io_uring: a large, fast-moving attack surface whose operations are not
   * seen by seccomp. Docker, ChromeOS and Android refuse it too.
   */
  ioUring: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'],
  /** Moving pages between NUMA nodes, also of other processes. */
  numa: ['move_pages', 'migrate_pages'],
  /** Obsolete or unimplemented interfaces nothing current needs. */
  obsolete: ['nfsservctl', 'uselib', 'ustat', 'sysfs', '_sysctl', 'create_module', 'get_kernel_syms', 'query_module', 'vm86', 'vm86old'],
};

/** personality(2) is allowed only with these domains: Linux, 32-bit Linux, UNAME26, both, and the query 0xffffffff. */
export const SAFE_PERSONALITIES: readonly number[] = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/**
 * socket(2) may create any family but this one, as in Docker: vsock is not
 * namespaced, so it would reach past the container's network namespace to
 * the host, over the VM's agent channel device.
 */
export const AF_VSOCK = 40;

/**
 * clone(2) flags that create namespaces: CLONE_NEWNS, NEWCGROUP, NEWUTS,
 * NEWIPC, NEWUSER, NEWPID, NEWNET (CLONE_NEWTIME shares its bit with the
 * exit signal in clone's flags: only clone3 and unshare take it).
 */
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;
