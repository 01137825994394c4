import { connect as http2Connect, constants as h2 } from 'node:http2';
import type { Duplex } from 'node:stream';

/**
 * One unary gRPC call over a raw stream with Node's own http2 client: for
 * the agent's self-tests and warm-up, which talk to the agent's server from
 * inside the same process (grpc-js's client cannot take a custom stream).
 * Resolves with the response message bytes; rejects unless grpc-status is 0.
 */
export async function grpcUnary(connection: Duplex, path: string, request: Uint8Array): Promise<Buffer> {
  const session = http2Connect('http://agent', { createConnection: () => connection });
  try {
    const frame = Buffer.alloc(5 + request.length);
    frame.writeUInt32BE(request.length, 1);
    Buffer.from(request).copy(frame, 5);
    const req = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: path,
      [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      te: 'trailers',
    });
    const reply = await new Promise<{ data: Buffer; status: string }>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let status = 'missing';
      req.on('trailers', (t) => (status = String(t['grpc-status'])));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve({ data: Buffer.concat(chunks), status }));
      req.on('error', reject);
      req.end(frame);
    });
    if (reply.status !== '0') throw new Error(`${path}: grpc-status ${reply.status}`);
    return reply.data.subarray(5);
  } finally {
    session.close();
  }
}
