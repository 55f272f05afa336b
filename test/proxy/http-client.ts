// A small HTTP/1.1 client for the proxy tests: any header (Host, Connection) may be set, and the
// answer comes back whole.
import { request as httpRequest, Agent } from 'node:http';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  raw: string[];
  body: string;
}

const noPool = new Agent({ keepAlive: false });

export function fetchRaw(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string> | string[];
    body?: string | Buffer | AsyncIterable<Buffer>;
    agent?: Agent;
  } = {},
): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: options.method ?? 'GET',
        headers: options.headers as Record<string, string>,
        agent: options.agent ?? noPool,
        setHost: !(options.headers && JSON.stringify(options.headers).toLowerCase().includes('"host')),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            raw: res.rawHeaders,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const body = options.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else
      void (async () => {
        for await (const chunk of body) req.write(chunk);
        req.end();
      })();
  });
}
