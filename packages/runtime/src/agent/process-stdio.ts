import type { Readable, Writable } from 'node:stream';
import type { ProcessRef } from '@mayu/protocol';
import type { AgentClient } from './agent-client.js';

/** Takes a chunk of a process's output; a returned promise holds the next read back (backpressure). */
export type OutputSink = (chunk: Buffer) => void | Promise<void>;

/**
 * Copies one output stream of a guest process to `sinks` until it ends (an
 * empty read). The next read waits for every sink, so a slow reader holds
 * the output back in the guest's bounded buffer, not in host memory. A
 * failed read (the agent or VM gone) ends the stream; `onError` hears why.
 */
export async function pumpOutput(agent: AgentClient, ref: ProcessRef, stream: 'stdout' | 'stderr', sinks: readonly OutputSink[], onError?: (err: unknown) => void): Promise<void> {
  for (;;) {
    let chunk: Buffer;
    try {
      chunk = await agent.readOutput(ref, stream);
    } catch (err) {
      onError?.(err);
      return;
    }
    if (chunk.length === 0) return;
    await Promise.all(sinks.map((sink) => sink(chunk)));
  }
}

/** A sink that writes to a stream and waits for it to drain when it is full (or to close). */
export function writableSink(out: Writable): OutputSink {
  return (chunk) =>
    new Promise((resolve) => {
      if (out.destroyed || !out.writable) return resolve();
      if (out.write(chunk)) return resolve();
      const done = (): void => {
        out.off('drain', done);
        out.off('close', done);
        resolve();
      };
      out.once('drain', done);
      out.once('close', done);
    });
}

/** Sends `input` to the process's stdin, one chunk at a time, then closes it (EOF) when the input ends. */
export function pumpInput(agent: AgentClient, ref: ProcessRef, input: Readable): Promise<void> {
  return new Promise((resolve) => {
    let queue = Promise.resolve();
    input.on('data', (chunk: Buffer) => {
      input.pause();
      queue = queue
        .then(() => agent.writeStdin(ref, chunk))
        .then(() => {
          input.resume();
        })
        .catch(() => {
          input.destroy();
        });
    });
    const finish = (): void => {
      queue = queue.then(() => agent.closeStdin(ref)).catch(() => {});
      void queue.then(() => resolve());
    };
    input.once('end', finish);
    input.once('error', finish);
  });
}
