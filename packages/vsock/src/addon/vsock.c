/*
 * The host's and guest's small socket addon: AF_VSOCK, SO_PEERCRED, a TCP
 * listener in another network namespace, SO_ORIGINAL_DST, and a terminal
 * handed over a console socket (a pty, SCM_RIGHTS) — the few system calls
 * Node's net and tty modules cannot make.
 *
 * AF_VSOCK sockets are non-blocking and close-on-exec; accept and connect
 * readiness is watched with a uv_poll_t on Node's own event loop. Connected
 * descriptors go back to JavaScript as plain fds (see ../fd-socket.ts for the
 * stream). peerCredentials reads who is at the other end of a connected Unix
 * socket (see ../peer-credentials.ts).
 *
 * Errors are thrown (or passed to callbacks) as Error objects with `code`
 * (the errno name), `errno` and `syscall`, like Node's own.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <node_api.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>
#include <linux/vm_sockets.h>

#define CHECK(call)                                                  \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_error(env, "ERR_VSOCK_NAPI", "N-API call failed: " #call); \
      return NULL;                                                   \
    }                                                                \
  } while (0)

static napi_value make_errno_error(napi_env env, int err, const char *syscall) {
  const char *name = strerrorname_np(err);
  char msg[256];
  snprintf(msg, sizeof msg, "%s %s (%s)", syscall, name ? name : "EUNKNOWN", strerror(err));
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

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_throw(env, make_errno_error(env, err, syscall));
  return NULL;
}

static int get_u32_args(napi_env env, napi_callback_info info, size_t want, uint32_t *out, napi_value *rest) {
  size_t argc = want + 1;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "missing arguments");
    return -1;
  }
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_uint32(env, argv[i], &out[i]) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "arguments must be unsigned 32-bit integers");
      return -1;
    }
  }
  if (rest) *rest = argc > want ? argv[want] : NULL;
  return 0;
}

static napi_value make_u32(napi_env env, uint32_t v) {
  napi_value out;
  napi_create_uint32(env, v, &out);
  return out;
}

/* socket(): a new non-blocking AF_VSOCK stream socket. */
static napi_value js_socket(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  return make_u32(env, (uint32_t)fd);
}

static void fill_addr(struct sockaddr_vm *addr, uint32_t cid, uint32_t port) {
  memset(addr, 0, sizeof *addr);
  addr->svm_family = AF_VSOCK;
  addr->svm_cid = cid;
  addr->svm_port = port;
}

/* bind(fd, cid, port) */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  uint32_t a[3];
  if (get_u32_args(env, info, 3, a, NULL)) return NULL;
  struct sockaddr_vm addr;
  fill_addr(&addr, a[1], a[2]);
  if (bind((int)a[0], (struct sockaddr *)&addr, sizeof addr) != 0) return throw_errno(env, errno, "bind");
  return NULL;
}

/* listen(fd, backlog) */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  uint32_t a[2];
  if (get_u32_args(env, info, 2, a, NULL)) return NULL;
  if (listen((int)a[0], (int)a[1]) != 0) return throw_errno(env, errno, "listen");
  return NULL;
}

static napi_value addr_object(napi_env env, const struct sockaddr_vm *addr) {
  napi_value obj;
  napi_create_object(env, &obj);
  napi_set_named_property(env, obj, "cid", make_u32(env, addr->svm_cid));
  napi_set_named_property(env, obj, "port", make_u32(env, addr->svm_port));
  return obj;
}

/* localAddress(fd) -> { cid, port } */
static napi_value js_local_address(napi_env env, napi_callback_info info) {
  uint32_t fd;
  if (get_u32_args(env, info, 1, &fd, NULL)) return NULL;
  struct sockaddr_vm addr;
  socklen_t len = sizeof addr;
  if (getsockname((int)fd, (struct sockaddr *)&addr, &len) != 0) return throw_errno(env, errno, "getsockname");
  return addr_object(env, &addr);
}

/* close(fd) */
static napi_value js_close(napi_env env, napi_callback_info info) {
  uint32_t fd;
  if (get_u32_args(env, info, 1, &fd, NULL)) return NULL;
  if (close((int)fd) != 0 && errno != EINTR) return throw_errno(env, errno, "close");
  return NULL;
}

/* peerCredentials(fd) -> { pid, uid, gid }: SO_PEERCRED of a connected
 * AF_UNIX socket, as the kernel recorded them when the connection was made
 * (the connecting process's for an accepted socket). pid is 0 when the peer
 * is outside this pid namespace; a uid or gid outside this user namespace
 * reads as the overflow id (65534). Other sockets throw ENOPROTOOPT (the
 * kernel would answer -1/-1 for them), an unconnected one ENOTCONN. */
static napi_value js_peer_credentials(napi_env env, napi_callback_info info) {
  uint32_t fd;
  if (get_u32_args(env, info, 1, &fd, NULL)) return NULL;
  int domain = 0;
  socklen_t len = sizeof domain;
  if (getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return throw_errno(env, errno, "getsockopt");
  if (domain != AF_UNIX) return throw_errno(env, ENOPROTOOPT, "getsockopt");
  struct sockaddr_un peer;
  len = sizeof peer;
  if (getpeername((int)fd, (struct sockaddr *)&peer, &len) != 0) return throw_errno(env, errno, "getpeername");
  struct ucred cred;
  len = sizeof cred;
  if (getsockopt((int)fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return throw_errno(env, errno, "getsockopt");
  napi_value obj, pid;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_int32(env, cred.pid, &pid));
  CHECK(napi_set_named_property(env, obj, "pid", pid));
  CHECK(napi_set_named_property(env, obj, "uid", make_u32(env, cred.uid)));
  CHECK(napi_set_named_property(env, obj, "gid", make_u32(env, cred.gid)));
  return obj;
}

/* ---- network namespaces and NAT ------------------------------------------ */

/* listenInNetns(nsPath, backlog): the fd of a TCP socket listening on
 * 127.0.0.1 (an ephemeral port) in the network namespace at nsPath (a
 * socket belongs to the namespace it was made in). The calling thread enters
 * that namespace only for socket(2) and goes back at once; if it could not
 * go back, the process aborts rather than run on in the wrong namespace. */
static napi_value js_listen_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char path[4096];
  size_t len = 0;
  uint32_t backlog = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1 ||
      napi_get_value_uint32(env, argv[1], &backlog) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "listenInNetns(nsPath, backlog): a path and an unsigned integer");
    return NULL;
  }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) return throw_errno(env, errno, "open");
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    int err = errno;
    close(target);
    return throw_errno(env, err, "open");
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(target);
    close(self);
    return throw_errno(env, err, "setns");
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int socket_err = errno;
  if (setns(self, CLONE_NEWNET) != 0) abort();
  close(target);
  close(self);
  if (fd < 0) return throw_errno(env, socket_err, "socket");
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, (int)backlog) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "listen");
  }
  return make_u32(env, (uint32_t)fd);
}

/* originalDestination(fd): {address, port} where an IPv4 TCP connection was
 * headed before netfilter redirected it (SO_ORIGINAL_DST); ENOENT when it
 * was not redirected. */
static napi_value js_original_destination(napi_env env, napi_callback_info info) {
  uint32_t fd;
  if (get_u32_args(env, info, 1, &fd, NULL)) return NULL;
  struct sockaddr_in dst;
  socklen_t len = sizeof dst;
  if (getsockopt((int)fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0) return throw_errno(env, errno, "getsockopt");
  char text[INET_ADDRSTRLEN];
  if (!inet_ntop(AF_INET, &dst.sin_addr, text, sizeof text)) return throw_errno(env, errno, "inet_ntop");
  napi_value obj, address;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address));
  CHECK(napi_set_named_property(env, obj, "address", address));
  CHECK(napi_set_named_property(env, obj, "port", make_u32(env, ntohs(dst.sin_port))));
  return obj;
}

/* ---- readiness watchers --------------------------------------------------- */

typedef enum { WATCH_ACCEPT, WATCH_CONNECT } watch_kind;

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  watch_kind kind;
  int fd;
  int closing;
} watcher;

static void watcher_freed(uv_handle_t *handle) {
  free(handle->data);
}

static void watcher_close(watcher *w) {
  if (w->closing) return;
  w->closing = 1;
  uv_poll_stop(&w->poll);
  napi_async_destroy(w->env, w->async);
  napi_delete_reference(w->env, w->callback);
  uv_close((uv_handle_t *)&w->poll, watcher_freed);
}

static void watcher_call(watcher *w, size_t argc, napi_value *argv) {
  napi_env env = w->env;
  napi_value cb, global, result;
  if (napi_get_reference_value(env, w->callback, &cb) != napi_ok || cb == NULL) return;
  napi_get_global(env, &global);
  napi_make_callback(env, w->async, global, cb, argc, argv, &result);
}

static void on_accept_ready(watcher *w) {
  napi_env env = w->env;
  for (;;) {
    struct sockaddr_vm peer;
    socklen_t len = sizeof peer;
    int fd = accept4(w->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      napi_value argv[1] = {make_errno_error(env, errno, "accept")};
      watcher_call(w, 1, argv);
      return;
    }
    napi_value argv[3];
    napi_get_null(env, &argv[0]);
    argv[1] = make_u32(env, (uint32_t)fd);
    argv[2] = addr_object(env, &peer);
    watcher_call(w, 3, argv);
    if (w->closing) return;
  }
}

static void on_connect_ready(watcher *w) {
  napi_env env = w->env;
  /* Stop watching before JavaScript sees the fd: libuv refuses to open a
   * stream on an fd its loop still watches (EEXIST). */
  uv_poll_stop(&w->poll);
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  napi_value argv[1];
  if (err) argv[0] = make_errno_error(env, err, "connect");
  else napi_get_null(env, &argv[0]);
  watcher_call(w, 1, argv);
  watcher_close(w);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  watcher *w = handle->data;
  if (w->closing) return;
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  if (w->kind == WATCH_CONNECT) {
    /* A failed connect shows up as POLLERR, which libuv reports as UV_EBADF:
     * the socket's own error (SO_ERROR) says what really happened. */
    on_connect_ready(w);
  } else if (status < 0) {
    napi_value argv[1] = {make_errno_error(w->env, -status, "accept")};
    watcher_call(w, 1, argv);
  } else {
    on_accept_ready(w);
  }
  napi_close_handle_scope(w->env, scope);
}

static watcher *watcher_start(napi_env env, int fd, napi_value callback, watch_kind kind, int events) {
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  watcher *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->env = env;
  w->fd = fd;
  w->kind = kind;
  napi_value name;
  napi_create_string_utf8(env, kind == WATCH_ACCEPT ? "VsockAccept" : "VsockConnect", NAPI_AUTO_LENGTH, &name);
  if (uv_poll_init(loop, &w->poll, fd) != 0) {
    free(w);
    return NULL;
  }
  w->poll.data = w;
  napi_create_reference(env, callback, 1, &w->callback);
  napi_async_init(env, NULL, name, &w->async);
  uv_poll_start(&w->poll, events, on_poll);
  return w;
}

static void watcher_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
}

/* startAccept(fd, cb(err, clientFd, {cid, port})) -> watcher handle */
static napi_value js_start_accept(napi_env env, napi_callback_info info) {
  uint32_t fd;
  napi_value cb;
  if (get_u32_args(env, info, 1, &fd, &cb)) return NULL;
  watcher *w = watcher_start(env, (int)fd, cb, WATCH_ACCEPT, UV_READABLE);
  if (!w) return throw_errno(env, ENOMEM, "uv_poll_init");
  napi_value handle;
  CHECK(napi_create_external(env, w, watcher_finalize, NULL, &handle));
  return handle;
}

/* stopWatch(handle): stops an accept or pending connect watcher; the caller
 * closes the fd afterwards. Must be called at most once, and not after a
 * connect callback has run. */
static napi_value js_stop_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a watch handle");
    return NULL;
  }
  watcher_close((watcher *)data);
  return NULL;
}

/* connect(fd, cid, port, cb(err)) -> watcher handle */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  uint32_t a[3];
  napi_value cb;
  if (get_u32_args(env, info, 3, a, &cb)) return NULL;
  struct sockaddr_vm addr;
  fill_addr(&addr, a[1], a[2]);
  if (connect((int)a[0], (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS) {
    return throw_errno(env, errno, "connect");
  }
  watcher *w = watcher_start(env, (int)a[0], cb, WATCH_CONNECT, UV_WRITABLE);
  if (!w) return throw_errno(env, ENOMEM, "uv_poll_init");
  napi_value handle;
  CHECK(napi_create_external(env, w, watcher_finalize, NULL, &handle));
  return handle;
}

/* ---- terminals for a console socket -------------------------------------- */

/* openPty(): {master, slave, path}, both close-on-exec and not the caller's
 * controlling terminal. The slave is put in raw mode: whoever holds it only
 * relays bytes to a terminal elsewhere (in the guest), which does the line
 * discipline; cooking them here too would echo twice and turn \r\n into
 * \r\r\n. */
static napi_value js_open_pty(napi_env env, napi_callback_info info) {
  (void)info;
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return throw_errno(env, errno, "posix_openpt");
  char name[128];
  if (grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, name, sizeof name) != 0) {
    int err = errno;
    close(master);
    return throw_errno(env, err, "unlockpt");
  }
  int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  struct termios t;
  if (slave < 0 || tcgetattr(slave, &t) != 0 || (cfmakeraw(&t), tcsetattr(slave, TCSANOW, &t)) != 0) {
    int err = errno;
    if (slave >= 0) close(slave);
    close(master);
    return throw_errno(env, err, "open pty slave");
  }
  napi_value obj, path;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_set_named_property(env, obj, "master", make_u32(env, (uint32_t)master)));
  CHECK(napi_set_named_property(env, obj, "slave", make_u32(env, (uint32_t)slave)));
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &path));
  CHECK(napi_set_named_property(env, obj, "path", path));
  return obj;
}

/* sendFd(socketPath, fd, name): connects to the Unix socket at socketPath
 * and sends fd with SCM_RIGHTS, `name` as the message (as runc sends a
 * console's master to --console-socket: conmon and containerd read it so). */
static napi_value js_send_fd(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  char name[256];
  size_t len = 0, name_len = 0;
  uint32_t fd = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1 ||
      napi_get_value_uint32(env, argv[1], &fd) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], name, sizeof name, &name_len) != napi_ok || name_len == 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sendFd(socketPath, fd, name): a socket path that fits sun_path, a descriptor and a name");
    return NULL;
  }
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return throw_errno(env, errno, "socket");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, path, len);
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int err = errno;
    close(sock);
    return throw_errno(env, err, "connect");
  }
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = name, .iov_len = name_len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int sent_fd = (int)fd;
  memcpy(CMSG_DATA(c), &sent_fd, sizeof sent_fd);
  ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  int err = errno;
  close(sock);
  if (n < 0) return throw_errno(env, err, "sendmsg");
  return NULL;
}

/* makeControllingTerminal(fd): the terminal at fd becomes the controlling
 * terminal of this process's session (it must lead one), so that a resize
 * of it sends this process SIGWINCH. */
static napi_value js_make_controlling_terminal(napi_env env, napi_callback_info info) {
  uint32_t fd;
  if (get_u32_args(env, info, 1, &fd, NULL)) return NULL;
  if (ioctl((int)fd, TIOCSCTTY, 0) != 0) return throw_errno(env, errno, "ioctl(TIOCSCTTY)");
  return NULL;
}

/* windowSize(fd): {rows, columns} of the terminal at fd. */
static napi_value js_window_size(napi_env env, napi_callback_info info) {
  uint32_t fd;
  if (get_u32_args(env, info, 1, &fd, NULL)) return NULL;
  struct winsize ws;
  if (ioctl((int)fd, TIOCGWINSZ, &ws) != 0) return throw_errno(env, errno, "ioctl(TIOCGWINSZ)");
  napi_value obj;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_set_named_property(env, obj, "rows", make_u32(env, ws.ws_row)));
  CHECK(napi_set_named_property(env, obj, "columns", make_u32(env, ws.ws_col)));
  return obj;
}

/* setWindowSize(fd, rows, columns): for tests (an engine does it to the master). */
static napi_value js_set_window_size(napi_env env, napi_callback_info info) {
  uint32_t a[3];
  if (get_u32_args(env, info, 3, a, NULL)) return NULL;
  struct winsize ws = {.ws_row = (unsigned short)a[1], .ws_col = (unsigned short)a[2]};
  if (ioctl((int)a[0], TIOCSWINSZ, &ws) != 0) return throw_errno(env, errno, "ioctl(TIOCSWINSZ)");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"socket", NULL, js_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"localAddress", NULL, js_local_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"startAccept", NULL, js_start_accept, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stopWatch", NULL, js_stop_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peerCredentials", NULL, js_peer_credentials, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listenInNetns", NULL, js_listen_in_netns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"originalDestination", NULL, js_original_destination, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openPty", NULL, js_open_pty, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendFd", NULL, js_send_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"makeControllingTerminal", NULL, js_make_controlling_terminal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"windowSize", NULL, js_window_size, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setWindowSize", NULL, js_set_window_size, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value constants;
  napi_create_object(env, &constants);
  napi_set_named_property(env, constants, "VMADDR_CID_ANY", make_u32(env, VMADDR_CID_ANY));
  napi_set_named_property(env, constants, "VMADDR_CID_LOCAL", make_u32(env, 1));
  napi_set_named_property(env, constants, "VMADDR_CID_HOST", make_u32(env, VMADDR_CID_HOST));
  napi_set_named_property(env, constants, "VMADDR_PORT_ANY", make_u32(env, VMADDR_PORT_ANY));
  napi_set_named_property(env, exports, "constants", constants);
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
