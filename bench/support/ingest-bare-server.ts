/**
 * The HTTP ceiling for the ingestion benchmark: a bare Node http server that reads the body,
 * parses the JSON array and answers 202 with the ingestion response shape, storing nothing. Run as
 * its own process (as the standalone server is); prints `listening on <port>` when ready.
 */
import { createServer } from 'node:http';

let position = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let events: unknown;
    try {
      events = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      events = null;
    }
    if (req.method !== 'POST' || !Array.isArray(events) || events.length === 0) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":"BAD_REQUEST"}');
      return;
    }
    position += events.length;
    res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: events.length, duplicates: 0, position }));
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening on ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
