// A bare node:http2 stream server over TLS answering every path with one file held in memory:
// `node h2-node.mjs FILE PORT KEY CERT`. The floor Trellis's HTTP/2 is measured against.
import { createSecureServer } from 'node:http2';
import { readFileSync } from 'node:fs';

const [file, port, key, cert] = process.argv.slice(2);
const body = readFileSync(file);
const server = createSecureServer({ key: readFileSync(key), cert: readFileSync(cert), allowHTTP1: false });
server.on('stream', (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'application/octet-stream', 'content-length': body.length });
  stream.end(body);
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
