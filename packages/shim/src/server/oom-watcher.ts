import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

/** The longest pause between two OOM polls after the guest answered with nonsense or failed. */
const MAX_BACKOFF_MS = 5000;
/** At most one OOM event per container in this many ms (a guest may report the same kill in a loop). */
const PER_CONTAINER_INTERVAL_MS = 1000;

export interface OomSource {
  nextOomEvent(): Promise<string>;
}

/**
 * Long-polls the agent for OOM kills and reports each one for a container
 * of this pod. The guest is untrusted: an id that is not one of this pod's
 * containers is dropped (and logged, rate-limited), repeats are coalesced,
 * and a guest that answers instantly with nonsense or fails is polled with
 * an exponential back-off, so it cannot make the shim spin or flood
 * containerd with events.
 */
export class OomWatcher {
  private stopped = false;
  private readonly lastReported = new Map<string, number>();
  private rejected = 0;

  constructor(
    private readonly source: OomSource,
    private readonly isOurs: (id: string) => boolean,
    private readonly report: (id: string) => void,
    private readonly log: Logger,
  ) {}

  /** Runs until stop(); never throws. */
  async run(): Promise<void> {
    let backoff = 0;
    while (!this.stopped) {
      if (backoff > 0) await sleep(backoff);
      let id: string;
      try {
        id = await this.source.nextOomEvent();
      } catch (err) {
        if (this.stopped) return;
        this.log.debug({ err }, 'OOM poll failed');
        backoff = Math.min(MAX_BACKOFF_MS, Math.max(100, backoff * 2));
        continue;
      }
      if (this.accept(id)) backoff = 0;
      else backoff = Math.min(MAX_BACKOFF_MS, Math.max(10, backoff * 2));
    }
  }

  stop(): void {
    this.stopped = true;
  }

  private accept(id: string): boolean {
    if (!this.isOurs(id)) {
      if (this.rejected++ % 100 === 0)
        this.log.warn({ containerId: id.slice(0, 128), rejected: this.rejected }, "the guest reported an OOM kill for a container that is not one of this pod's; ignored");
      return false;
    }
    const now = performance.now();
    if (now - (this.lastReported.get(id) ?? -Infinity) < PER_CONTAINER_INTERVAL_MS) return false;
    this.lastReported.set(id, now);
    this.report(id);
    return true;
  }
}
