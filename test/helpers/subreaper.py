#!/usr/bin/env python3
"""subreaper.py RESULT -- CMD...: runs CMD as a child subreaper, as conmon and
containerd's runc shim do, so that the processes CMD leaves behind (an OCI
runtime's container process) become our children when CMD exits, and their
exit status can be read. Waits for all of them, then writes RESULT as JSON:
{"cmd": CMD's status, "reaped": {"PID": status, ...}}, a status being the
exit code, or 128+N for signal N. Our stdio passes on to CMD."""
import ctypes, json, os, sys

PR_SET_CHILD_SUBREAPER = 36

def status(ws):
    return os.WEXITSTATUS(ws) if os.WIFEXITED(ws) else 128 + os.WTERMSIG(ws)

def main():
    result, sep, *cmd = sys.argv[1:]
    assert sep == '--' and cmd, __doc__
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit('prctl(PR_SET_CHILD_SUBREAPER) failed')
    first = os.fork()
    if first == 0:
        os.execvp(cmd[0], cmd)
    out = {'cmd': None, 'reaped': {}}
    while True:
        try:
            pid, ws = os.wait()
        except ChildProcessError:
            break
        if pid == first:
            out['cmd'] = status(ws)
            # the command's result is known as soon as it exits; the rest follows. Written aside and renamed
            # into place: a reader that sees the file must never read it empty (that read as status 0).
            with open(result + '.cmd.tmp', 'w') as f:
                f.write(str(out['cmd']))
            os.replace(result + '.cmd.tmp', result + '.cmd')
        else:
            out['reaped'][str(pid)] = status(ws)
    with open(result + '.tmp', 'w') as f:
        json.dump(out, f)
    os.rename(result + '.tmp', result)

main()
