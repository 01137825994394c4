import type { ProcessRef } from '@mayu/protocol';
import type { ShimIo } from '../io/stdio.js';

export type TaskStatus = 'created' | 'running' | 'paused' | 'stopped';

/** A task's init process or an exec, as the shim tracks it for containerd. */
export class TaskProcess {
  readonly ref: ProcessRef;
  status: TaskStatus = 'created';
  exit: { status: number; at: Date } | null = null;
  /** The OCI process of an exec (JSON), until it is started. */
  spec: unknown = null;
  readonly exited: Promise<{ status: number; at: Date }>;
  private resolveExit!: (e: { status: number; at: Date }) => void;

  constructor(
    containerId: string,
    execId: string,
    readonly io: ShimIo,
    readonly pid: number,
  ) {
    this.ref = { containerId, execId };
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  get name(): string {
    return this.ref.execId ? `exec ${this.ref.execId} of task ${this.ref.containerId}` : `task ${this.ref.containerId}`;
  }

  markExited(status: number): { status: number; at: Date } {
    if (this.exit) return this.exit;
    const exit = { status, at: new Date() };
    this.exit = exit;
    this.status = 'stopped';
    this.resolveExit(exit);
    return exit;
  }
}
