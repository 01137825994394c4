import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The agent's system-call addon (src/addon/sys.c). */
export interface SysNative {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, flags?: number): void;
  sethostname(name: string): void;
  sync(): void;
  /** clock_settime(CLOCK_REALTIME). */
  setClock(seconds: number, nanos: number): void;
  /** Credits the bytes to the kernel's entropy pool and reseeds its CRNG (RNDADDENTROPY, RNDRESEEDCRNG). */
  reseedRandom(entropy: Buffer): void;
  /** A listening Unix socket (mode 0600); returns its fd. */
  unixListen(path: string): number;
  /** Calls back once with the descriptor the first peer sends (SCM_RIGHTS). */
  receiveFd(listenFd: number, cb: (err: NodeJS.ErrnoException | null, fd?: number) => void): void;
  setWinsize(fd: number, rows: number, columns: number): void;
  closeFd(fd: number): void;
  /** A pipe: [readFd, writeFd], both close-on-exec. */
  pipe(): [number, number];
  /** Sends one rtnetlink request (network/rtnetlink.ts builds them) and waits for its ack; a negative ack is thrown as its errno. */
  rtnetlink(message: Buffer): void;
  /** New IPC and UTS namespaces (with `hostname`), pinned on DIR/ipc and DIR/uts (empty files); the caller stays in its own. */
  pinNamespaces(dir: string, hostname: string): void;
  /** A process in a new PID namespace, PID 1 there, that only reaps until killed: its pid here. */
  spawnPidNamespaceHolder(): number;
}

/** umount2(2) flags. */
export const MNT_DETACH = 2;

/** mount(2) flags. */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  BIND: 4096,
  REC: 16384,
  PRIVATE: 1 << 18,
  RELATIME: 1 << 21,
} as const;

/** Where the single executable finds its addons inside the guest image. */
export const GUEST_ADDON_DIR = '/usr/lib/mayu';

let loaded: SysNative | undefined;

function addonPath(): string {
  if (process.env.MAYU_SYS_ADDON) return process.env.MAYU_SYS_ADDON;
  try {
    return fileURLToPath(new URL('../../../build/Release/sys.node', import.meta.url));
  } catch {
    return `${GUEST_ADDON_DIR}/sys.node`;
  }
}

export function sys(): SysNative {
  if (loaded) return loaded;
  const path = addonPath();
  if (!existsSync(path)) throw new Error(`agent system addon not found at ${path}`);
  const module = { exports: {} as SysNative };
  process.dlopen(module, path);
  loaded = module.exports;
  return loaded;
}
