import { anyWire, eventsServiceWire } from '@mayu/protocol';
import { TtrpcClient } from '@mayu/ttrpc';
import type { Logger } from 'pino';
import { timestamp } from '../timestamp.js';

/** A protobuf message type of containerd.events, by its bare name and codec. */
export interface EventType<T> {
  name: string;
  encode(message: T): { finish(): Uint8Array };
}

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
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        this.client ??= TtrpcClient.connect(this.address);
        const events = (await this.client).service(eventsServiceWire.EventsDefinition);
        await events.forward({ envelope }, { timeoutMs: 5000, metadata: { 'containerd-namespace-ttrpc': this.namespace } });
        this.log.debug({ topic }, 'event published');
        return;
      } catch (err) {
        this.client = null;
        this.log.warn({ err, topic, attempt }, 'publishing an event failed');
      }
    }
  }
}
