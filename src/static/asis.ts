// As-is files (Twisted's ASISProcessor, Apache's mod_asis): a file that holds its own status and
// headers, then a blank line, then the body.
import { readFile } from 'node:fs/promises';
import { Resource } from '../resource.js';
import type { Request } from '../request.js';
import { registerProcessorKind } from './processors.js';

/** Largest as-is file served; the whole file is read at once. */
export const MAX_ASIS_BYTES = 16 * 1024 * 1024;

/** The parsed head of an as-is file. */
export interface AsisResponse {
  code: number;
  reason: string | null;
  headers: Array<[string, string]>;
  body: Buffer;
}

/**
 * Parses an as-is file. The first line may be a status line (`HTTP/1.1 404 Not Found`); a
 * `Status: 404 Not Found` header works too (mod_asis); otherwise 200. Lines end with LF or CRLF;
 * the head ends at the first empty line. Returns null when the head is malformed.
 *
 * | file                                        | result                    |
 * |---------------------------------------------|---------------------------|
 * | `HTTP/1.1 301 Moved\nLocation: /x\n\n`      | 301 "Moved", Location     |
 * | `Status: 410 Gone\nContent-Type: t/p\n\nbye`| 410, Content-Type, `bye`  |
 * | `Content-Type: text/plain\n\nhi`            | 200, `hi`                 |
 * | `no colon here\n\n`                         | null                      |
 */
export function parseAsis(data: Buffer): AsisResponse | null {
  let end = data.indexOf('\n\n');
  const crlfEnd = data.indexOf('\r\n\r\n');
  let bodyStart: number;
  if (crlfEnd !== -1 && (end === -1 || crlfEnd < end)) {
    bodyStart = crlfEnd + 4;
    end = crlfEnd;
  } else if (end !== -1) {
    bodyStart = end + 2;
  } else {
    return null;
  }
  const lines = data.subarray(0, end).toString('latin1').split(/\r?\n/);
  let code = 200;
  let reason: string | null = null;
  const headers: Array<[string, string]> = [];
  const status = /^HTTP\/\d(?:\.\d)? (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (status) {
    code = Number(status[1]);
    reason = status[2] ?? null;
    lines.shift();
  }
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') {
      const m = /^(\d{3})(?: (.*))?$/.exec(value);
      if (!m) return null;
      code = Number(m[1]);
      reason = m[2] ?? null;
      continue;
    }
    headers.push([name, value]);
  }
  return { code, reason, headers, body: data.subarray(bodyStart) };
}

/**
 * Serves an as-is file: its status and headers, then its body with an exact Content-Length.
 *
 * ```ts
 * root.processors['.asis'] = (path) => new AsisResource(path);
 * ```
 */
export class AsisResource extends Resource {
  override isLeaf = true;
  readonly path: string;

  constructor(path: string) {
    super();
    this.path = path;
  }

  override async render(request: Request): Promise<Buffer> {
    const data = await readFile(this.path);
    if (data.length > MAX_ASIS_BYTES) throw new Error(`as-is file ${this.path} is larger than ${MAX_ASIS_BYTES} bytes`);
    const parsed = parseAsis(data);
    if (!parsed) throw new Error(`as-is file ${this.path} has no valid head (headers, then an empty line)`);
    request.setResponseCode(parsed.code, parsed.reason ?? undefined);
    const seen = new Set<string>();
    for (const [name, value] of parsed.headers) {
      const lower = name.toLowerCase();
      if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'connection') continue;
      // The file's own headers replace the Site's defaults (Server, Date); repeats add up (Set-Cookie).
      if (seen.has(lower)) request.addHeader(name, value);
      else request.setHeader(name, value);
      seen.add(lower);
    }
    return parsed.body;
  }
}

registerProcessorKind('asis', (path) => new AsisResource(path));
