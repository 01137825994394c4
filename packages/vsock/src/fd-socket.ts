import { Socket } from 'node:net';

/**
 * A net.Socket over an already-open stream file descriptor that Node's net
 * module refuses: an AF_VSOCK socket (libuv guesses its type as "unknown") or
 * a virtio-serial character device ("file"). The fd is opened as a libuv pipe
 * handle, which reads and writes any pollable stream descriptor. This is the
 * only place in mayu that touches a Node internal binding (pipe_wrap); the
 * only other Node internal mayu reads is a net.Socket's `_handle.fd`, in
 * peer-credentials.ts.
 *
 * The socket owns the fd from then on: destroying the socket closes it.
 */
interface PipeHandle {
  open(fd: number): number;
  close(): void;
}
interface PipeWrap {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number };
}

let pipeWrap: PipeWrap | undefined;

function binding(): PipeWrap {
  if (!pipeWrap) {
    const proc = process as unknown as { binding(name: string): PipeWrap };
    pipeWrap = proc.binding('pipe_wrap');
  }
  return pipeWrap;
}

export interface FdSocketOptions {
  allowHalfOpen?: boolean;
  /** false for a write-only descriptor (default true). */
  readable?: boolean;
  /** false for a read-only descriptor (default true). */
  writable?: boolean;
}

export function socketFromFd(fd: number, options: FdSocketOptions = {}): Socket {
  if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`fd must be a non-negative integer, got ${fd}`);
  const { Pipe, constants } = binding();
  const handle = new Pipe(constants.SOCKET);
  const err = handle.open(fd);
  if (err) {
    handle.close();
    throw Object.assign(new Error(`cannot open fd ${fd} as a stream (libuv error ${err})`), {
      code: 'ERR_VSOCK_FD',
      errno: err,
    });
  }
  const options_ = {
    handle,
    allowHalfOpen: options.allowHalfOpen ?? false,
    readable: options.readable ?? true,
    writable: options.writable ?? true,
  };
  return new Socket(options_);
}
