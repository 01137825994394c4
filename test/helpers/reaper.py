#!/usr/bin/env python3
"""reaper.py -- CMD...: runs CMD as a child subreaper and reaps every orphan
that lands here, as an init does. Some hosts' PID 1 (this project's CI and
development machines among them) never reaps: a daemon's orphan, such as
podman's conmon, then stays a zombie, and podman, which waits for conmon to
be gone, waits out its 20 s conmon timeout on every run. Tests, benchmarks
and chaos runs start engines under this. Signals INT, TERM and HUP go on to
CMD; exits with CMD's status (128+N for signal N) once CMD has exited."""
import ctypes, os, signal, sys

PR_SET_CHILD_SUBREAPER = 36


def status(ws):
    return os.WEXITSTATUS(ws) if os.WIFEXITED(ws) else 128 + os.WTERMSIG(ws)


def main():
    if len(sys.argv) < 3 or sys.argv[1] != '--':
        sys.exit(__doc__)
    cmd = sys.argv[2:]
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit('prctl(PR_SET_CHILD_SUBREAPER) failed')
    child = os.fork()
    if child == 0:
        os.execvp(cmd[0], cmd)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, _f: os.kill(child, n))
    while True:
        try:
            pid, ws = os.wait()
        except ChildProcessError:
            sys.exit(1)
        except InterruptedError:
            continue
        if pid == child:
            sys.exit(status(ws))


main()
