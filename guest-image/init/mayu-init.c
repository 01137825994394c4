/*
 * mayu-init: PID 1 of the mayu guest.
 *
 * Node cannot waitpid(-1), so the agent cannot be the reaper of orphans. This
 * small init does what only PID 1 can do, and nothing else:
 *
 *   1. mounts /proc, /sys and /dev, which the Node runtime needs to start;
 *   2. when the root is the initramfs, re-roots onto a bind mount of it, so
 *      that the OCI runtime's pivot_root works inside containers;
 *   3. starts the agent (/sbin/mayu-agent) with the boot timestamp of init in
 *      MAYU_INIT_START_MS and the agent.* kernel parameters as its arguments;
 *      NODE_OPTIONS is DEFAULT_NODE_OPTIONS, or the comma-separated list of
 *      the kernel parameter agent.node_options=;
 *   4. reaps every process re-parented to it, and reports each one's pid and
 *      exact wait status to the agent on the agent's fd 3 (see EXIT_FD):
 *      container processes are orphaned to init when the OCI runtime's create
 *      or exec -d returns, so this is how the agent learns their exit codes.
 *      The agent's own children are reaped by the agent, which is never a
 *      subreaper;
 *   5. when the agent exits, syncs and powers the VM off.
 *
 * Built statically by guest-image/rootfs/build-rootfs.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AGENT_PATH "/sbin/mayu-agent"
/* Node flags for the agent. Empty: measured under TCG, --jitless and a
 * smaller V8 thread pool both started the agent more slowly. */
#define DEFAULT_NODE_OPTIONS ""
/* The agent reads reaped-process reports from this fd: records of two
 * native-endian int32s, pid then wait status. */
#define EXIT_FD 3
#define RAMFS_MAGIC_ 0x858458f6
#define TMPFS_MAGIC_ 0x01021994

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mayu-init: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void power_off(void) {
  sync();
  reboot(RB_POWER_OFF);
  /* Without a power-off method the kernel returns; with panic=-1 and QEMU's
   * -no-reboot, a reboot request ends the VM as well. */
  reboot(RB_AUTOBOOT);
  for (;;) pause();
}

static void mount_fs(const char *src, const char *dst, const char *type, unsigned long flags) {
  mkdir(dst, 0755);
  if (mount(src, dst, type, flags, NULL) != 0 && errno != EBUSY)
    say("mount %s on %s: %s", type, dst, strerror(errno));
}

/* pivot_root(2) refuses the initramfs: it is the root of the mount tree.
 * Bind-mount it onto /newroot, move that over / and chroot into it. */
static void reroot_if_initramfs(void) {
  struct statfs st;
  if (statfs("/", &st) != 0) return;
  if ((unsigned long)st.f_type != RAMFS_MAGIC_ && (unsigned long)st.f_type != TMPFS_MAGIC_) return;
  mkdir("/newroot", 0755);
  if (mount("/", "/newroot", NULL, MS_BIND | MS_REC, NULL) != 0 || chdir("/newroot") != 0 ||
      mount(".", "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 || chdir("/") != 0) {
    say("re-rooting the initramfs failed: %s", strerror(errno));
  }
}

static double uptime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char node_options[1024] = "NODE_OPTIONS=" DEFAULT_NODE_OPTIONS;

/* The agent's arguments: every "agent.*" word of the kernel command line.
 * agent.node_options=a,b sets NODE_OPTIONS="a b" instead. */
static char **agent_argv(void) {
  static char cmdline[4096];
  static char *argv[64];
  int argc = 0;
  argv[argc++] = AGENT_PATH;
  int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
    close(fd);
    cmdline[n > 0 ? n : 0] = '\0';
    for (char *save = NULL, *w = strtok_r(cmdline, " \n", &save); w && argc < 63;
         w = strtok_r(NULL, " \n", &save)) {
      if (strncmp(w, "agent.node_options=", 19) == 0) {
        snprintf(node_options, sizeof node_options, "NODE_OPTIONS=%s", w + 19);
        for (char *c = node_options; *c; c++)
          if (*c == ',') *c = ' ';
      } else if (strncmp(w, "agent.", 6) == 0) {
        argv[argc++] = w;
      }
    }
  }
  argv[argc] = NULL;
  return argv;
}

static int exit_report_fd = -1;
static unsigned long dropped_reports;

/* Tells the agent about a reaped orphan. Never blocks: init must keep reaping. */
static void report_exit(pid_t pid, int status) {
  if (exit_report_fd < 0) return;
  int rec[2] = {pid, status};
  if (write(exit_report_fd, rec, sizeof rec) != (ssize_t)sizeof rec && ++dropped_reports % 100 == 1)
    say("exit report for pid %d dropped (%lu so far): %s", pid, dropped_reports, strerror(errno));
}

static pid_t start_agent(double init_start_ms) {
  char start_env[64];
  snprintf(start_env, sizeof start_env, "MAYU_INIT_START_MS=%.3f", init_start_ms);
  char **argv = agent_argv();
  char *envp[] = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=/",
      "TERM=linux",
      start_env,
      node_options,
      NULL,
  };
  int pipefd[2] = {-1, -1};
  if (pipe2(pipefd, O_CLOEXEC) != 0) say("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid == 0) {
    if (pipefd[0] == EXIT_FD)
      fcntl(EXIT_FD, F_SETFD, 0); /* keep it across exec */
    else if (pipefd[0] >= 0)
      dup2(pipefd[0], EXIT_FD); /* the copy is not close-on-exec */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    execve(AGENT_PATH, argv, envp);
    say("exec %s: %s", AGENT_PATH, strerror(errno));
    _exit(127);
  }
  if (pid < 0) say("fork: %s", strerror(errno));
  if (pipefd[0] >= 0) {
    close(pipefd[0]);
    exit_report_fd = pipefd[1];
    fcntl(exit_report_fd, F_SETFL, O_NONBLOCK);
    fcntl(exit_report_fd, F_SETPIPE_SZ, 1 << 20);
  }
  return pid;
}

int main(void) {
  double init_start_ms = uptime_ms();
  if (getpid() != 1) {
    say("must run as PID 1");
    return 1;
  }
  mount_fs("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  mount_fs("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID);
  reroot_if_initramfs();

  /* PID 1 gets no default signal actions; block the ones the kernel sends it
   * so that they cannot interrupt anything. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, NULL);

  pid_t agent = start_agent(init_start_ms);
  if (agent < 0) power_off();

  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      say("waitpid: %s", strerror(errno));
      power_off();
    }
    if (pid != agent) {
      report_exit(pid, status);
      continue;
    }
    if (WIFEXITED(status))
      say("agent exited with status %d; powering off", WEXITSTATUS(status));
    else
      say("agent killed by signal %d; powering off", WTERMSIG(status));
    power_off();
  }
}
