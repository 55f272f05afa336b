// Where a FastCGI application listens, as written on the command line: `tcp:HOST:PORT` or `unix:/path`.

/** A FastCGI application's address. */
export type FastCGIAddress = { type: 'tcp'; host: string; port: number } | { type: 'unix'; path: string };

/**
 * Parses a FastCGI application address; null when `text` is not one.
 *
 * | text                     | address                                   |
 * |--------------------------|-------------------------------------------|
 * | `tcp:127.0.0.1:9000`     | `{ type: 'tcp', host: '127.0.0.1', port: 9000 }` |
 * | `tcp:[::1]:9000`         | `{ type: 'tcp', host: '::1', port: 9000 }` |
 * | `tcp:9000`               | `{ type: 'tcp', host: '127.0.0.1', port: 9000 }` |
 * | `unix:/run/php/fpm.sock` | `{ type: 'unix', path: '/run/php/fpm.sock' }` |
 * | `tcp:host`, `unix:rel`, port 0 or over 65535 | null |
 */
export function parseFastCGIAddress(text: string): FastCGIAddress | null {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    return path.startsWith('/') && !path.includes('\0') ? { type: 'unix', path } : null;
  }
  if (!text.startsWith('tcp:')) return null;
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(text.slice(4));
  if (!m) return null;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  const host = m[1] === undefined ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
  return { type: 'tcp', host, port };
}

/** The address as `parseFastCGIAddress` reads it (`tcp:127.0.0.1:9000`, `tcp:[::1]:9000`, `unix:/path`). */
export function formatFastCGIAddress(address: FastCGIAddress): string {
  if (address.type === 'unix') return `unix:${address.path}`;
  return `tcp:${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}
