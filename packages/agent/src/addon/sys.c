/*
 * The few Linux system calls the guest agent needs and Node lacks: mount,
 * umount2, sethostname, sync; a Unix socket that receives one file
 * descriptor (the OCI runtime's --console-socket hands over a pty master that
 * way); TIOCSWINSZ; and one rtnetlink request at a time (the messages are
 * built in TypeScript: network/rtnetlink.ts), to configure the pod's network
 * without an `ip` binary; setting the wall clock and reseeding the kernel's
 * random number generator (a VM restored from a template starts with the
 * template's); and a pod's own IPC and UTS namespaces, made and pinned by
 * bind mounts, and its own PID namespace, held by a process that only reaps
 * (a pod without a sandbox container shares those). Each throws an Error with `code` (the errno name),
 * `errno` and `syscall` on failure, like Node's own errors.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/random.h>
#include <sched.h>
#include <stdbool.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

static napi_value make_error(napi_env env, int err, const char *syscall, const char *what) {
  const char *name = strerrorname_np(err);
  char msg[512];
  snprintf(msg, sizeof msg, "%s %s: %s (%s)", syscall, what, name ? name : "EUNKNOWN", strerror(err));
  napi_value code, message, error, errno_value, syscall_value;
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  return error;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *what) {
  napi_throw(env, make_error(env, err, syscall, what));
  return NULL;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected an integer");
    return -1;
  }
  return 0;
}

/* Copies a string argument (or NULL for null/undefined) into a malloc'd buffer. */
static int get_string(napi_env env, napi_value v, char **out) {
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type == napi_null || type == napi_undefined) {
    *out = NULL;
    return 0;
  }
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a string");
    return -1;
  }
  *out = malloc(len + 1);
  napi_get_value_string_utf8(env, v, *out, len + 1, &len);
  return 0;
}

/* mount(source, target, fstype, flags, data) */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "mount(source, target, fstype, flags, data)");
    return NULL;
  }
  char *s[4] = {NULL, NULL, NULL, NULL};
  int idx[4] = {0, 1, 2, 4};
  napi_value result = NULL;
  uint32_t flags = 0;
  for (int i = 0; i < 4; i++)
    if (get_string(env, argv[idx[i]], &s[i])) goto out;
  if (napi_get_value_uint32(env, argv[3], &flags) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "flags must be a number");
    goto out;
  }
  if (mount(s[0], s[1], s[2], flags, s[3]) != 0) throw_errno(env, errno, "mount", s[1] ? s[1] : "");
out:
  for (int i = 0; i < 4; i++) free(s[i]);
  return result;
}

/* umount(target, flags) */
static napi_value js_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *target = NULL;
  uint32_t flags = 0;
  if (argc < 1 || get_string(env, argv[0], &target) || !target) return NULL;
  if (argc > 1) napi_get_value_uint32(env, argv[1], &flags);
  if (umount2(target, (int)flags) != 0) throw_errno(env, errno, "umount2", target);
  free(target);
  return NULL;
}

/* sethostname(name) */
static napi_value js_sethostname(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *name = NULL;
  if (argc < 1 || get_string(env, argv[0], &name) || !name) return NULL;
  if (sethostname(name, strlen(name)) != 0) throw_errno(env, errno, "sethostname", name);
  free(name);
  return NULL;
}

/* setClock(seconds, nanoseconds): clock_settime(CLOCK_REALTIME). */
static napi_value js_set_clock(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t sec = 0;
  int32_t nsec = 0;
  if (argc < 2 || napi_get_value_int64(env, argv[0], &sec) != napi_ok || napi_get_value_int32(env, argv[1], &nsec) != napi_ok || nsec < 0 || nsec > 999999999) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "setClock(seconds, nanoseconds)");
    return NULL;
  }
  struct timespec ts = {.tv_sec = (time_t)sec, .tv_nsec = nsec};
  if (clock_settime(CLOCK_REALTIME, &ts) != 0) throw_errno(env, errno, "clock_settime", "CLOCK_REALTIME");
  return NULL;
}

/* reseedRandom(entropy: Buffer): credits `entropy` to the kernel's pool
 * (RNDADDENTROPY, 8 bits a byte) and reseeds the CRNG from it at once
 * (RNDRESEEDCRNG), so that what is read next differs from any other VM
 * restored from the same template. */
static napi_value js_reseed_random(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  size_t len = 0;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len == 0 || len > 512) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "reseedRandom(entropy): a Buffer of 1 to 512 bytes");
    return NULL;
  }
  struct rand_pool_info *pool = calloc(1, sizeof *pool + len);
  if (!pool) return throw_errno(env, ENOMEM, "calloc", "entropy");
  pool->entropy_count = (int)(len * 8);
  pool->buf_size = (int)len;
  memcpy(pool->buf, data, len);
  int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    free(pool);
    return throw_errno(env, errno, "open", "/dev/urandom");
  }
  int err = 0;
  const char *what = NULL;
  if (ioctl(fd, RNDADDENTROPY, pool) != 0) err = errno, what = "RNDADDENTROPY";
  else if (ioctl(fd, RNDRESEEDCRNG) != 0) err = errno, what = "RNDRESEEDCRNG";
  close(fd);
  explicit_bzero(pool, sizeof *pool + len);
  free(pool);
  if (err) return throw_errno(env, err, "ioctl", what);
  return NULL;
}

static napi_value js_sync(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  sync();
  return NULL;
}

/* unixListen(path) -> fd: a listening, non-blocking Unix socket (mode 0600). */
static napi_value js_unix_listen(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = NULL;
  if (argc < 1 || get_string(env, argv[0], &path) || !path) return NULL;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  napi_value result = NULL;
  if (strlen(path) >= sizeof addr.sun_path) {
    throw_errno(env, ENAMETOOLONG, "bind", path);
    goto out;
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", path);
    goto out;
  }
  mode_t old = umask(0177);
  int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
  umask(old);
  if (rc != 0 || listen(fd, 4) != 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, rc != 0 ? "bind" : "listen", path);
    goto out;
  }
  napi_create_int32(env, fd, &result);
out:
  free(path);
  return result;
}

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int fd;
} fd_receiver;

static void receiver_freed(uv_handle_t *h) { free(h->data); }

/* Accepts one connection on the listening socket and reads one message
 * carrying a descriptor (SCM_RIGHTS); the peer sends it right away. */
static int accept_and_receive(int listen_fd, int *out_fd) {
  int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0) return errno;
  struct timeval tv = {.tv_sec = 10};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char data[256];
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  int err = n < 0 ? errno : 0;
  close(conn);
  if (err) return err;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return EBADMSG;
  memcpy(out_fd, CMSG_DATA(c), sizeof(int));
  return 0;
}

static void on_receiver_ready(uv_poll_t *handle, int status, int events) {
  (void)events;
  fd_receiver *r = handle->data;
  uv_poll_stop(&r->poll);
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  int fd = -1;
  int err = status < 0 ? -status : accept_and_receive(r->fd, &fd);
  napi_value argv[2];
  if (err) {
    argv[0] = make_error(env, err, "recvmsg", "console socket");
    napi_get_undefined(env, &argv[1]);
  } else {
    napi_get_null(env, &argv[0]);
    napi_create_int32(env, fd, &argv[1]);
  }
  napi_value cb, global, result;
  napi_get_reference_value(env, r->callback, &cb);
  napi_get_global(env, &global);
  napi_make_callback(env, r->async, global, cb, 2, argv, &result);
  napi_close_handle_scope(env, scope);
  napi_async_destroy(env, r->async);
  napi_delete_reference(env, r->callback);
  uv_close((uv_handle_t *)&r->poll, receiver_freed);
}

/* receiveFd(listenFd, cb(err, fd)): once, when a peer connects and sends a descriptor. */
static napi_value js_receive_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 2 || get_int(env, argv[0], &fd)) return NULL;
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  fd_receiver *r = calloc(1, sizeof *r);
  if (!r || uv_poll_init(loop, &r->poll, fd) != 0) {
    free(r);
    return throw_errno(env, EINVAL, "uv_poll_init", "console socket");
  }
  r->env = env;
  r->fd = fd;
  r->poll.data = r;
  napi_value name;
  napi_create_string_utf8(env, "ConsoleSocket", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &r->callback);
  napi_async_init(env, NULL, name, &r->async);
  uv_poll_start(&r->poll, UV_READABLE, on_receiver_ready);
  return NULL;
}

/* setWinsize(fd, rows, columns): TIOCSWINSZ on a terminal. */
static napi_value js_set_winsize(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, rows, cols;
  if (argc < 3 || get_int(env, argv[0], &fd) || get_int(env, argv[1], &rows) || get_int(env, argv[2], &cols)) return NULL;
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl(fd, TIOCSWINSZ, &ws) != 0) return throw_errno(env, errno, "ioctl", "TIOCSWINSZ");
  return NULL;
}

/* pipe() -> [readFd, writeFd], both close-on-exec (spawn's stdio dup2s the one it passes on). */
static napi_value js_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return throw_errno(env, errno, "pipe2", "stdio");
  napi_value arr, r, w;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, fds[0], &r);
  napi_create_int32(env, fds[1], &w);
  napi_set_element(env, arr, 0, r);
  napi_set_element(env, arr, 1, w);
  return arr;
}

/* closeFd(fd) */
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || get_int(env, argv[0], &fd)) return NULL;
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, errno, "close", "fd");
  return NULL;
}

/*
 * rtnetlink(message): sends one NETLINK_ROUTE request (a whole nlmsghdr with
 * NLM_F_REQUEST|NLM_F_ACK, built by the caller) and waits for its ack; a
 * negative ack is thrown as that errno. The socket lives for this call only.
 */
static napi_value js_rtnetlink(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data;
  size_t len;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len < sizeof(struct nlmsghdr)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Buffer holding a netlink message");
    return NULL;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return throw_errno(env, errno, "socket", "netlink");
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  struct nlmsghdr *req = data;
  int err = 0;
  if (sendto(fd, data, len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    err = errno;
  } else {
    char reply[8192];
    for (;;) {
      ssize_t n = recv(fd, reply, sizeof reply, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      struct nlmsghdr *h = (struct nlmsghdr *)reply;
      int done = 0;
      for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_seq != req->nlmsg_seq) continue;
        if (h->nlmsg_type == NLMSG_ERROR) {
          struct nlmsgerr *e = NLMSG_DATA(h);
          err = -e->error;
          done = 1;
          break;
        }
      }
      if (done) break;
    }
  }
  close(fd);
  if (err != 0) return throw_errno(env, err, "rtnetlink", "request");
  return NULL;
}

/*
 * pinNamespaces(dir, hostname): new IPC and UTS namespaces (the hostname set
 * in the UTS one), pinned by bind mounts of their nsfs files onto DIR/ipc and
 * DIR/uts, which must exist as empty files. The calling thread alone enters
 * them (unshare is per thread for these two types) and goes back to its own
 * before this returns, whatever happened; on a failure nothing stays mounted.
 */
static napi_value js_pin_namespaces(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *dir = NULL, *hostname = NULL;
  if (argc < 2 || get_string(env, argv[0], &dir) || get_string(env, argv[1], &hostname) || !dir || !hostname) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "pinNamespaces(dir, hostname)");
    free(dir);
    free(hostname);
    return NULL;
  }
  char ipc[4096], uts[4096];
  snprintf(ipc, sizeof ipc, "%s/ipc", dir);
  snprintf(uts, sizeof uts, "%s/uts", dir);
  int own_ipc = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
  int own_uts = open("/proc/thread-self/ns/uts", O_RDONLY | O_CLOEXEC);
  int err = 0;
  const char *call = "open", *what = "/proc/thread-self/ns";
  if (own_ipc < 0 || own_uts < 0) err = errno;
  else if (unshare(CLONE_NEWIPC | CLONE_NEWUTS) != 0) err = errno, call = "unshare", what = "CLONE_NEWIPC|CLONE_NEWUTS";
  else if (sethostname(hostname, strlen(hostname)) != 0) err = errno, call = "sethostname", what = hostname;
  else if (mount("/proc/thread-self/ns/ipc", ipc, NULL, MS_BIND, NULL) != 0) err = errno, call = "mount", what = ipc;
  else if (mount("/proc/thread-self/ns/uts", uts, NULL, MS_BIND, NULL) != 0) {
    err = errno, call = "mount", what = uts;
    umount2(ipc, MNT_DETACH);
  }
  /* Back to the thread's own namespaces; if that fails the thread cannot be trusted to serve on. */
  if (own_ipc >= 0 && setns(own_ipc, CLONE_NEWIPC) != 0) abort();
  if (own_uts >= 0 && setns(own_uts, CLONE_NEWUTS) != 0) abort();
  if (own_ipc >= 0) close(own_ipc);
  if (own_uts >= 0) close(own_uts);
  if (err) throw_errno(env, err, call, what);
  free(dir);
  free(hostname);
  return NULL;
}

/*
 * The body of a pod's PID namespace holder: PID 1 there, it does nothing but
 * reap what is reparented to it (as the pause container does) until it is
 * killed. Only async-signal-safe calls: it is a fork of a threaded process.
 */
static void hold_pid_namespace(void) {
  syscall(SYS_close_range, 3U, ~0U, 0U);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  for (;;) {
    int sig = 0;
    sigwait(&chld, &sig);
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
}

/*
 * spawnPidNamespaceHolder(): a process in a new PID namespace, its PID 1,
 * that holds it for the containers of a pod without a sandbox container to
 * join (/proc/PID/ns/pid); returns its pid here. The intermediate child that
 * unshares exits at once, so the holder is reparented to init, which reaps it
 * once the agent kills it.
 */
static napi_value js_spawn_pid_namespace_holder(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return throw_errno(env, errno, "pipe2", "pid namespace holder");
  pid_t child = fork();
  if (child < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    return throw_errno(env, err, "fork", "pid namespace holder");
  }
  if (child == 0) {
    int answer = -1;
    if (unshare(CLONE_NEWPID) != 0) answer = -errno;
    else {
      pid_t holder = fork();
      if (holder == 0) hold_pid_namespace();
      answer = holder < 0 ? -errno : holder;
    }
    ssize_t n = write(fds[1], &answer, sizeof answer);
    _exit(n == (ssize_t)sizeof answer ? 0 : 1);
  }
  close(fds[1]);
  int answer = 0;
  ssize_t n;
  do n = read(fds[0], &answer, sizeof answer);
  while (n < 0 && errno == EINTR);
  int err = n == (ssize_t)sizeof answer ? 0 : (n < 0 ? errno : EIO);
  close(fds[0]);
  while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
  }
  if (err) return throw_errno(env, err, "read", "pid namespace holder");
  if (answer < 0) return throw_errno(env, -answer, "unshare", "CLONE_NEWPID");
  napi_value out;
  napi_create_int32(env, answer, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount", NULL, js_umount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sethostname", NULL, js_sethostname, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sync", NULL, js_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setClock", NULL, js_set_clock, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reseedRandom", NULL, js_reseed_random, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unixListen", NULL, js_unix_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receiveFd", NULL, js_receive_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setWinsize", NULL, js_set_winsize, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pipe", NULL, js_pipe, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rtnetlink", NULL, js_rtnetlink, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pinNamespaces", NULL, js_pin_namespaces, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spawnPidNamespaceHolder", NULL, js_spawn_pid_namespace_holder, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
