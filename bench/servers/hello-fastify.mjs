// The same bytes from Fastify: `node hello-fastify.mjs PORT`.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/*', (_request, reply) => reply.type('text/html; charset=utf-8').send('Hello, world!'));
await app.listen({ port: Number(process.argv[2]), host: '127.0.0.1' });
process.stdout.write('ready\n');
