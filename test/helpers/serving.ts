// Waiting for every listener a `trellis` child process announces ("Trellis X serving URL"), and
// plain GETs on a fresh connection to what it announced.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TrellisProcess } from './server.js';

/** What one GET got, without the fields that differ between two runs (Date, connection handling). */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * GET `path` on a new connection (no keep-alive) from an announced `http://`, `https://` (any
 * certificate) or `unix:` URL, with `headers` (a Host header too, which fetch cannot send).
 */
export function httpGet(url: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = url.startsWith('unix:') ? null : new URL(url);
    const options = u
      ? { host: '127.0.0.1', port: Number(u.port), path, headers, rejectUnauthorized: false, agent: false as const }
      : { socketPath: url.slice('unix:'.length), path, headers, agent: false as const };
    const req = (u?.protocol === 'https:' ? httpsRequest : httpRequest)(options, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString('latin1')));
      res.on('end', () => {
        const { date: _d, connection: _c, 'keep-alive': _k, ...rest } = res.headers;
        resolve({ status: res.statusCode!, headers: rest, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The URLs `server` announced, once it has announced `count` of them. */
export async function servingUrls(server: TrellisProcess, count: number, timeoutMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const urls = [...server.stdout().matchAll(/serving (\S+)/g)].map((m) => m[1]!);
    if (urls.length >= count) return urls;
    if (Date.now() > deadline)
      throw new Error(`only ${urls.length} of ${count} listeners announced\n${server.stdout()}\n${server.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves once `text()` matches `pattern`. */
export async function waitForOutput(text: () => string, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(text())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${text()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether `text` is one line. */
export const oneLine = (text: string): boolean => text.trim().length > 0 && text.trim().split('\n').length === 1;
