import { MayuError } from '@mayu/protocol';

/** Decompressed bytes one image (all its layers) may still produce. */
export class ByteBudget {
  used = 0;
  constructor(readonly max: number) {}

  /** Passes `source` through, counting its bytes; past the budget, an error naming `what` (a layer). */
  async *count(source: AsyncIterable<Buffer>, what: string): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      this.used += chunk.length;
      if (this.used > this.max) {
        throw new MayuError('ERR_RESOURCE_EXHAUSTED', `${what}: the image unpacks to more than ${this.max} bytes`, { details: { what, max: this.max } });
      }
      yield chunk;
    }
  }
}
