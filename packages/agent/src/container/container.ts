import { watch, type FSWatcher } from 'node:fs';
import { MayuError, StateMachine } from '@mayu/protocol';
import { parseKeyValues } from '../stats/cgroup-stats.js';
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
  private readonly fsm: StateMachine<ContainerState>;
  readonly execs = new Map<string, ContainerProcess>();
  private oomWatcher: FSWatcher | null = null;
  private oomKills = 0;

  constructor(
    readonly id: string,
    readonly bundle: string,
    readonly init: ContainerProcess,
    readonly unmounts: (() => void)[],
    /** Its cgroup directory (cgroup-stats.ts's containerCgroup). */
    readonly cgroup: string,
  ) {
    this.fsm = new StateMachine<ContainerState>(`container ${id}`, 'created', TRANSITIONS);
    // Its init's end is its end, whatever state it was in.
    void init.wait().then(() => {
      if (this.fsm.can('stopped')) this.fsm.transition('stopped');
    });
  }

  get state(): ContainerState {
    return this.init.exit ? 'stopped' : this.fsm.state;
  }

  /** Refuses (ERR_INVALID_STATE naming from and to) a move not allowed now; changes nothing. */
  assertCan(to: ContainerState): void {
    if (this.init.exit && to !== 'stopped') throw new MayuError('ERR_INVALID_STATE', `container ${this.id}: cannot go from stopped to ${to}`, { details: { from: 'stopped', to } });
    this.fsm.assertCan(to);
  }

  /** Records a move, once the OCI runtime has made it. */
  transition(to: ContainerState): void {
    this.assertCan(to);
    this.fsm.transition(to);
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
}
