import type { Logger } from 'pino';

/** Checks in a row that must fail before a VM is taken for hung. */
export const HEALTH_FAILURES = 3;

/**
 * Asks a running sandbox's agent Check every `intervalMs` (each bounded by
 * `timeoutMs`); after HEALTH_FAILURES failures in a row, calls `onHung` once
 * with why. A VM whose vCPUs stopped or whose agent is wedged answers no
 * call: without this, a caller waiting for a process (WaitProcess has no
 * deadline) would wait forever.
 */
export class AgentHealthWatch {
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly o: {
      intervalMs: number;
      timeoutMs: number;
      check: (timeoutMs: number) => Promise<unknown>;
      onHung: (reason: string) => void;
      log: Logger;
    },
  ) {}

  start(): void {
    if (this.o.intervalMs > 0) this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.o.intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    const started = performance.now();
    try {
      await this.o.check(this.o.timeoutMs);
      this.failures = 0;
    } catch (err) {
      if (this.stopped) return;
      this.failures++;
      this.o.log.warn({ event: 'agent.unhealthy', err, failures: this.failures, ms: Math.round(performance.now() - started) }, 'the agent did not answer Check');
      if (this.failures >= HEALTH_FAILURES) {
        this.stop();
        this.o.onHung(`the agent answered none of ${HEALTH_FAILURES} health checks in a row (each allowed ${this.o.timeoutMs} ms, every ${this.o.intervalMs} ms): the VM is hung`);
        return;
      }
    }
    this.schedule();
  }
}
