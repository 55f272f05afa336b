// One site, every real HTTP channel: HTTP/1.1, HTTPS (HTTP/1.1 over TLS) and HTTP/2 (ALPN h2), each
// with a client that speaks it, so the same behaviour tests run over all of them.
import { readFileSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { listenHttp } from '../../src/channels/http.js';
import type { Listener } from '../../src/channels/listen.js';
import type { Site } from '../../src/site.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** A client bound to one channel of the site. */
export interface ChannelClient {
  name: 'http/1.1' | 'https/1.1' | 'h2';
  secure: boolean;
  port: number;
  request(method: string, path: string, options?: RequestOptions): Promise<Reply>;
}

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** Serves `site` on plain HTTP and on TLS, and returns a client per channel plus a close function. */
export async function channelMatrix(
  site: Site,
  tls: { key: string; cert: string },
): Promise<{ clients: ChannelClient[]; close(): Promise<void> }> {
  const plain: Listener = await listenHttp(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  const secure: Listener = await listenHttp(site, {
    type: 'ssl',
    port: 0,
    interface: '127.0.0.1',
    privateKey: tls.key,
    certKey: tls.cert,
  });
  const ca = readFileSync(tls.cert);
  const agent = new Agent({ keepAlive: true });
  const tlsAgent = new HttpsAgent({ keepAlive: true, ca, ALPNProtocols: ['http/1.1'] } as ConstructorParameters<
    typeof HttpsAgent
  >[0]);
  let session: ClientHttp2Session | null = null;

  const h1 =
    (secureChannel: boolean) =>
    (method: string, path: string, options: RequestOptions = {}) =>
      new Promise<Reply>((resolve, reject) => {
        const make = secureChannel ? httpsRequest : httpRequest;
        const req = make({
          host: '127.0.0.1',
          servername: 'localhost',
          port: secureChannel ? secure.port! : plain.port!,
          method,
          path,
          headers: { Host: `localhost:${secureChannel ? secure.port : plain.port}`, ...options.headers },
          agent: secureChannel ? tlsAgent : agent,
        } as unknown as Parameters<typeof httpRequest>[0]);
        req.on('response', async (res) => {
          const body = await collect(res);
          resolve({ status: res.statusCode!, headers: res.headers, body, text: body.toString() });
        });
        req.on('error', reject);
        req.end(options.body);
      });

  const h2 = (method: string, path: string, options: RequestOptions = {}) =>
    new Promise<Reply>((resolve, reject) => {
      if (!session || session.destroyed || session.closed) {
        session = h2connect(`https://localhost:${secure.port}`, { ca });
        session.on('error', () => {});
      }
      const stream = session.request({ ':method': method, ':path': path, ...options.headers });
      stream.on('response', async (headers) => {
        const body = await collect(stream);
        const out: Record<string, string | string[] | undefined> = {};
        for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':')) out[k] = v as string | string[];
        resolve({ status: Number(headers[':status']), headers: out, body, text: body.toString() });
      });
      stream.on('error', reject);
      stream.end(options.body);
    });

  return {
    clients: [
      { name: 'http/1.1', secure: false, port: plain.port!, request: h1(false) },
      { name: 'https/1.1', secure: true, port: secure.port!, request: h1(true) },
      { name: 'h2', secure: true, port: secure.port!, request: h2 },
    ],
    async close() {
      agent.destroy();
      tlsAgent.destroy();
      (session as ClientHttp2Session | null)?.destroy();
      await Promise.all([plain.close(500), secure.close(500)]);
    },
  };
}
