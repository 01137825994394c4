import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import type { Socket } from 'node:net';

/** The WebSocket subprotocol kubelet's streaming server (containerd's too) speaks for exec, attach and port-forward. */
export const CHANNEL_PROTOCOL = 'v4.channel.k8s.io';
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Frames bigger than this from the server are an error here (tests move small amounts). */
const MAX_FRAME = 16 << 20;

/**
 * A small client of Kubernetes' channel WebSocket protocol, as kubectl uses
 * against the URL a CRI Exec, Attach or PortForward returns: each binary
 * message starts with a channel byte. Exec/attach: 0 stdin, 1 stdout,
 * 2 stderr, 3 error (a JSON Status at the end), 4 resize ({"Width","Height"}).
 * Port-forward: 2n data and 2n+1 error for the n-th port, each opened by the
 * port as two little-endian bytes.
 */
export class ChannelStream extends EventEmitter<{ message: [channel: number, data: Buffer]; close: [] }> {
  private buffered = Buffer.alloc(0);
  private closed = false;

  private constructor(private readonly socket: Socket) {
    super();
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
  }

  /** Upgrades a GET of `url` to a WebSocket with the channel protocol; fails with the server's answer otherwise. */
  static connect(url: string, timeoutMs = 30_000): Promise<ChannelStream> {
    const key = randomBytes(16).toString('base64');
    return new Promise((resolve, reject) => {
      const req = request(url, {
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Protocol': CHANNEL_PROTOCOL },
        timeout: timeoutMs,
      });
      req.on('timeout', () => req.destroy(new Error(`no WebSocket upgrade from ${url} within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(new Error(`${url}: HTTP ${res.statusCode} instead of a WebSocket upgrade: ${body.trim()}`)));
      });
      req.on('upgrade', (res, socket, head) => {
        const accept = createHash('sha1')
          .update(key + WS_GUID)
          .digest('base64');
        if (res.headers['sec-websocket-accept'] !== accept) return reject(new Error('bad Sec-WebSocket-Accept'));
        const stream = new ChannelStream(socket);
        if (head.length > 0) stream.receive(head);
        resolve(stream);
      });
      req.end();
    });
  }

  /** Sends `data` on `channel` (one masked binary frame, as a client must). */
  send(channel: number, data: Buffer | string): void {
    this.frame(0x2, Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
  }

  /** Sends a close frame and ends the connection (destroyed after a second if the server keeps its side open). */
  close(): void {
    if (this.closed) return;
    this.frame(0x8, Buffer.alloc(0));
    this.socket.end();
    setTimeout(() => this.finish(), 1000).unref();
  }

  /** Every message until the server closes, by channel (the first message of each port-forward channel included). */
  collect(): Promise<Map<number, Buffer[]>> {
    const out = new Map<number, Buffer[]>();
    this.on('message', (channel, data) => out.set(channel, [...(out.get(channel) ?? []), data]));
    return new Promise((resolve) => (this.closed ? resolve(out) : this.once('close', () => resolve(out))));
  }

  private frame(opcode: number, payload: Buffer): void {
    const mask = randomBytes(4);
    const len = payload.length;
    const header = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    if (len >= 126 && len < 65536) {
      header[0] = 0x80 | opcode;
      header[1] = 0x80 | 126;
      header.writeUInt16BE(len, 2);
    } else if (len >= 65536) {
      header[0] = 0x80 | opcode;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(len), 2);
    }
    const masked = Buffer.alloc(len);
    for (let i = 0; i < len; i++) masked[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
    if (!this.socket.destroyed) this.socket.write(Buffer.concat([header, mask, masked]));
  }

  private receive(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const b = this.buffered;
      if (b.length < 2) return;
      const opcode = (b[0] ?? 0) & 0x0f;
      let len = (b[1] ?? 0) & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (len > MAX_FRAME) {
        this.socket.destroy(new Error(`a ${len}-byte WebSocket frame`));
        return;
      }
      if (b.length < off + len) return;
      const payload = b.subarray(off, off + len);
      this.buffered = b.subarray(off + len);
      if (opcode === 0x8) {
        this.close();
        this.finish();
        return;
      }
      if (opcode === 0x9) this.frame(0xa, payload);
      else if ((opcode === 0x2 || opcode === 0x1 || opcode === 0x0) && payload.length > 0) this.emit('message', payload[0] ?? 0, Buffer.from(payload.subarray(1)));
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.emit('close');
  }
}
