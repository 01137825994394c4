#!/usr/bin/env python3
"""console-receiver.py SOCKET OUT [--on MARKER ROWS COLS TEXT]...: what an
engine (conmon, containerd's runc shim) does with --console-socket. Listens
on the Unix socket SOCKET, takes the terminal master an OCI runtime sends
there (SCM_RIGHTS), and reads it until the other side closes, appending
what it reads to OUT. Each --on step waits for MARKER in the output, then
resizes the terminal to ROWS x COLS (0 0: no resize), waits 0.5 s, and types
TEXT (Python escapes: \\n)."""
import array, fcntl, os, socket, struct, sys, termios, time

def main():
    path, out_path, *rest = sys.argv[1:]
    steps = []
    while rest:
        flag, marker, rows, cols, text, *rest = rest
        assert flag == '--on', __doc__
        steps.append((marker, int(rows), int(cols), text.encode().decode('unicode_escape').encode()))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + '.tmp')
    server.listen(1)
    os.rename(path + '.tmp', path)  # the socket appears ready to accept
    server.settimeout(300)
    conn, _ = server.accept()
    fds = array.array('i')
    msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:fds.itemsize])
    if not fds:
        sys.exit('no descriptor came over the console socket')
    master = fds[0]
    with open(out_path + '.name', 'w') as f:
        f.write(msg.decode())
    seen = b''
    with open(out_path, 'ab', buffering=0) as out:
        while True:
            if steps and steps[0][0].encode() in seen:
                _, rows, cols, text = steps.pop(0)
                if rows:
                    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
                time.sleep(0.5)
                os.write(master, text)
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the slave side closed
                break
            if not chunk:
                break
            seen += chunk
            out.write(chunk)

main()
