import { ChannelStream } from './k8s-stream.js';

/**
 * `node forward-get.js URL PORT`: one HTTP/1.0 GET through a CRI
 * port-forward URL (the WebSocket channel protocol), printing what came back
 * on the port's data channel; it gives up after 10 s. Run where the
 * streaming server's address is reachable (for a private cri-o: in its
 * network namespace, by nsenter).
 */
const [url, portText] = process.argv.slice(2);
const port = Number(portText);
const s = await ChannelStream.connect(url ?? '');
const data: Buffer[] = [];
s.on('message', (channel, d) => {
  // Each channel opens with the port, two bytes little-endian.
  if (channel === 0 && !(d.length === 2 && d.readUInt16LE(0) === port)) data.push(d);
});
s.send(0, 'GET /index.html HTTP/1.0\r\n\r\n');
await new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, 10_000);
  s.once('close', () => {
    clearTimeout(timer);
    resolve();
  });
});
s.close();
process.stdout.write(Buffer.concat(data));
