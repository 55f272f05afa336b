// An Express hello app: run directly (`node express-hello.mjs PORT`) it serves itself with app.listen;
// imported (`trellis web --app express-hello.mjs`) it is the same app served by Trellis.
import express from 'express';
import { fileURLToPath } from 'node:url';

const app = express();
app.set('etag', false);
app.get('/', (_req, res) => res.send('Hello, world!'));
export default app;

if (process.argv[1] === fileURLToPath(import.meta.url)) app.listen(Number(process.argv[2]), '127.0.0.1');
