import { anyWire, eventsServiceWire } from '@mayu/protocol';
import { TtrpcClient } from '@mayu/ttrpc';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { timestamp } from '../timestamp.js';

/** A protobuf message type of containerd.events, by its bare name and codec. */
export interface EventType<T> {
  name: string;
  encode(message: T): { finish(): Uint8Array };
}

/**
 * How long to wait before each retry of an event containerd did not take:
 * 1 s, 2 s ... 5 s (15 s in all), as containerd's own shim publisher does — a
 * TaskExit published while containerd restarts reaches the new one.
 */
export const EVENT_RETRY_DELAYS_MS = [1000, 2000, 3000, 4000, 5000];

/**
 * Publishes task events to containerd through its ttrpc Events service
 * (TTRPC_ADDRESS), one at a time, in the order they were published.
 */
export class EventPublisher {
  private queue: Promise<void> = Promise.resolve();
  private client: Promise<TtrpcClient> | null = null;

  constructor(
    private readonly address: string,
    private readonly namespace: string,
    private readonly log: Logger,
    private readonly retryDelaysMs: readonly number[] = EVENT_RETRY_DELAYS_MS,
  ) {}

  publish<T>(topic: string, type: EventType<T>, event: T): Promise<void> {
    const envelope = {
      timestamp: timestamp(),
      namespace: this.namespace,
      topic,
      // containerd resolves the bare message name (no type.googleapis.com/ prefix).
      event: anyWire.Any.fromPartial({ typeUrl: type.name, value: Buffer.from(type.encode(event).finish()) }),
    };
    this.queue = this.queue.then(() => this.forward(topic, envelope));
    return this.queue;
  }

  /** Resolves once every event published so far was sent (or given up). */
  flush(): Promise<void> {
    return this.queue;
  }

  close(): void {
    void this.client?.then((c) => c.close()).catch(() => {});
  }

  private async forward(topic: string, envelope: eventsServiceWire.Envelope): Promise<void> {
    if (!this.address) return;
    for (let attempt = 1; ; attempt++) {
      try {
        this.client ??= TtrpcClient.connect(this.address);
        const events = (await this.client).service(eventsServiceWire.EventsDefinition);
        await events.forward({ envelope }, { timeoutMs: 5000, metadata: { 'containerd-namespace-ttrpc': this.namespace } });
        this.log.debug({ topic }, 'event published');
        return;
      } catch (err) {
        void this.client?.then((c) => c.close()).catch(() => {});
        this.client = null;
        const delay = this.retryDelaysMs[attempt - 1];
        if (delay === undefined) {
          this.log.error({ err, topic, attempts: attempt, event: 'event.dropped' }, 'containerd did not take an event; given up');
          return;
        }
        this.log.warn({ err, topic, attempt, retryInMs: delay }, 'publishing an event failed; retrying');
        await sleep(delay);
      }
    }
  }
}
