import { Duplex, PassThrough } from 'node:stream';

/** Two connected in-memory duplex streams, like a socketpair. */
export function duplexPair(): [Duplex, Duplex] {
  const aToB = new PassThrough();
  const bToA = new PassThrough();
  const make = (readable: PassThrough, writable: PassThrough): Duplex =>
    new Duplex({
      read() {
        const chunk = readable.read();
        if (chunk) this.push(chunk);
        else readable.once('readable', () => this._read(0));
      },
      write(chunk, _enc, cb) {
        writable.write(chunk, cb);
      },
      final(cb) {
        writable.end();
        cb();
      },
    });
  const a = make(bToA, aToB);
  const b = make(aToB, bToA);
  aToB.on('end', () => b.push(null));
  bToA.on('end', () => a.push(null));
  return [a, b];
}
