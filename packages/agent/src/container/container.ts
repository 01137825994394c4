import { watch, type FSWatcher } from 'node:fs';
import { MayuError, type ExitStatus } from '@mayu/protocol';
import { containerCgroup, parseKeyValues } from '../stats/cgroup-stats.js';
import { readFileSync } from 'node:fs';
import type { ContainerProcess } from './container-process.js';

export type ContainerState = 'created' | 'running' | 'paused' | 'stopped';

const TRANSITIONS: Record<ContainerState, readonly ContainerState[]> = {
  created: ['running', 'stopped'],
  running: ['paused', 'stopped'],
  paused: ['running', 'stopped'],
  stopped: [],
};

/** One container in the guest: its bundle, mounts, processes and state. */
export class Container {
  private current: ContainerState = 'created';
  readonly execs = new Map<string, ContainerProcess>();
  private oomWatcher: FSWatcher | null = null;
  private oomKills = 0;

  constructor(
    readonly id: string,
    readonly bundle: string,
    readonly init: ContainerProcess,
    readonly unmounts: (() => void)[],
  ) {
    void init.wait().then(() => {
      if (this.current !== 'stopped') this.current = 'stopped';
    });
  }

  get state(): ContainerState {
    return this.init.exit ? 'stopped' : this.current;
  }

  get cgroup(): string {
    return containerCgroup(this.id);
  }

  transition(to: ContainerState): void {
    const from = this.state;
    if (!TRANSITIONS[from].includes(to)) {
      throw new MayuError('ERR_INVALID_STATE', `container ${this.id}: cannot go from ${from} to ${to}`, { details: { from, to } });
    }
    this.current = to;
  }

  /** The init process ("") or an exec. */
  process(execId: string): ContainerProcess {
    const p = execId === '' ? this.init : this.execs.get(execId);
    if (!p) throw new MayuError('ERR_NOT_FOUND', `container ${this.id} has no process ${JSON.stringify(execId)}`, { details: { execId } });
    return p;
  }

  /** Calls `onOom` whenever the kernel's OOM killer kills a process of this container. */
  watchOom(onOom: () => void): void {
    const events = `${this.cgroup}/memory.events`;
    const check = (): void => {
      let kills = 0;
      try {
        kills = parseKeyValues(readFileSync(events, 'utf8')).oom_kill ?? 0;
      } catch {
        return;
      }
      if (kills > this.oomKills) {
        this.oomKills = kills;
        onOom();
      }
    };
    try {
      this.oomWatcher = watch(events, check);
      this.oomWatcher.on('error', () => {});
    } catch {
      // no memory controller: no OOM events
    }
  }

  stopWatching(): void {
    this.oomWatcher?.close();
    this.oomWatcher = null;
  }

  exitOf(execId: string): ExitStatus | null {
    return this.process(execId).exit;
  }
}
