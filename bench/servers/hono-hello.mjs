// A Hono hello app: run directly (`node hono-hello.mjs PORT`) it is served by @hono/node-server;
// imported (`trellis web --app hono-hello.mjs`) it is the same app served by Trellis.
import { Hono } from 'hono';
import { fileURLToPath } from 'node:url';

const app = new Hono();
app.get('/', (c) => c.text('Hello, world!'));
export default app;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { serve } = await import('@hono/node-server');
  serve({ fetch: app.fetch, port: Number(process.argv[2]), hostname: '127.0.0.1' });
}
