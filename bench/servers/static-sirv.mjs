// sirv (production mode: files indexed at startup, ETags) on node:http, for bench/static.mjs.
import { createServer } from 'node:http';
import sirv from 'sirv';

const [dir, port] = process.argv.slice(2);
createServer(sirv(dir, { dev: false, etag: true })).listen(Number(port), '127.0.0.1');
