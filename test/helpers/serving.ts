// Waiting for every listener a `trellis` child process announces ("Trellis X serving URL").
import type { TrellisProcess } from './server.js';

/** The URLs `server` announced, once it has announced `count` of them. */
export async function servingUrls(server: TrellisProcess, count: number, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const urls = [...server.stdout().matchAll(/serving (\S+)/g)].map((m) => m[1]!);
    if (urls.length >= count) return urls;
    if (Date.now() > deadline) throw new Error(`only ${urls.length} of ${count} listeners announced\n${server.stdout()}\n${server.stderr()}`);
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
