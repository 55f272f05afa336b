// The same bytes from a bare node:http server: `node hello-node.mjs PORT`.
import { createServer } from 'node:http';

const body = 'Hello, world!';
createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length });
  res.end(body);
}).listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
