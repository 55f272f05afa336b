// A bare node:http2 stream server over TLS answering every path with one file held in memory:
// `node h2-node.mjs FILE PORT KEY CERT [MODE]`. MODE `bare` (the default) sends three fields, the floor
// Trellis's HTTP/2 is measured against; `same-fields` sends the nine fields Trellis sends for a static
// file (a Date made per request, a fixed Last-Modified and ETag), so what remains is Trellis's own cost.
import { createSecureServer } from 'node:http2';
import { readFileSync, statSync } from 'node:fs';

const [file, port, key, cert, mode = 'bare'] = process.argv.slice(2);
if (mode !== 'bare' && mode !== 'same-fields') throw new Error(`unknown mode ${mode}`);
const body = readFileSync(file);
const lastModified = statSync(file).mtime.toUTCString();
const etag = '"1a09i-sg-mx6gfdsp"';
const server = createSecureServer({ key: readFileSync(key), cert: readFileSync(cert), allowHTTP1: false });
if (mode === 'bare') {
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream', 'content-length': body.length });
    stream.end(body);
  });
} else {
  server.on('stream', (stream) => {
    stream.respond({
      ':status': 200,
      date: new Date().toUTCString(),
      server: 'Trellis/0.1.0',
      'content-type': 'application/octet-stream',
      'x-content-type-options': 'nosniff',
      'accept-ranges': 'bytes',
      'last-modified': lastModified,
      etag,
      'content-length': body.length,
    });
    stream.end(body);
  });
}
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
