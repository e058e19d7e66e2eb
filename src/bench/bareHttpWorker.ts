import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * The bare peer of the host in `http-commands` and `http-reads` (./httpPeersBench.ts): a `node:http` server
 * on a worker thread of the bench process (so that it does not share a thread with the load generator, as
 * the host does not), which reads the request body, parses it as JSON when there is one, and answers with the
 * status, headers and body the host gave to the same request, byte for byte. It does nothing else: no
 * routing, no sign-in, no store. Posts its port to the parent; stops on a `close` message.
 */

export interface BareAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const { post, get } = workerData as { post: BareAnswer; get: BareAnswer };
const bodies = { post: Buffer.from(post.body), get: Buffer.from(get.body) };

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const isPost = req.method === 'POST';
    if (isPost) {
      try {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end();
        return;
      }
    }
    const answer = isPost ? post : get;
    const body = isPost ? bodies.post : bodies.get;
    res.writeHead(answer.status, { ...answer.headers, 'content-length': String(body.length) }).end(body);
  });
});
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => parentPort!.postMessage((server.address() as AddressInfo).port));
parentPort!.on('message', (m) => {
  if (m === 'close') {
    server.closeAllConnections();
    server.close(() => parentPort!.close());
  }
});
