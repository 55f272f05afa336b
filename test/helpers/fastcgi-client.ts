// A raw FastCGI client for tests: sends records as a web server would and collects what comes back,
// record by record, so tests can look at the protocol itself (ids, padding, END_REQUEST statuses).
import { connect, type Socket } from 'node:net';
import { encodeNameValuePairs } from '../../src/channels/fastcgi/name-value.js';
import { FcgiType, RecordReader, encodeRecord, type FcgiRecord } from '../../src/channels/fastcgi/records.js';

/** A parsed CGI-style response. */
export interface CgiReply {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Splits a CGI response (head, blank line, body) into status, headers and body. */
export function parseCgiReply(data: Buffer): CgiReply {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no end of head in ${JSON.stringify(data.toString().slice(0, 200))}`);
  const headers = new Map<string, string>();
  for (const line of data.subarray(0, end).toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return {
    status: Number(/^\d+/.exec(headers.get('status') ?? '')?.[0] ?? 200),
    headers,
    body: data.subarray(end + 4),
  };
}

/** A FastCGI connection under test control. */
export class FcgiClient {
  readonly socket: Socket;
  readonly records: FcgiRecord[] = [];
  closed = false;
  #reader = new RecordReader();
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      const { records, error } = this.#reader.push(chunk);
      if (error) throw new Error(error);
      // Copy: the chunk may be reused.
      for (const r of records) this.records.push({ ...r, content: Buffer.from(r.content) });
      this.#wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  static open(target: number | string): Promise<FcgiClient> {
    return new Promise((resolve, reject) => {
      const socket = typeof target === 'number' ? connect(target, '127.0.0.1') : connect(target);
      socket.once('connect', () => resolve(new FcgiClient(socket)));
      socket.once('error', reject);
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves once `predicate` holds (checked after every arrival), or rejects after `ms`. */
  async until(predicate: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the FastCGI server');
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  send(...buffers: Buffer[]): void {
    this.socket.write(Buffer.concat(buffers));
  }

  /** BEGIN_REQUEST (responder unless `role`), PARAMS (one record plus the empty one). */
  begin(id: number, params: Record<string, string>, options: { keepConn?: boolean; role?: number } = {}): void {
    const body = Buffer.alloc(8);
    body.writeUInt16BE(options.role ?? 1, 0);
    body[2] = options.keepConn === false ? 0 : 1;
    const nv = encodeNameValuePairs(Object.entries(params));
    const recs = [encodeRecord(FcgiType.BEGIN_REQUEST, id, body)];
    for (let o = 0; o < nv.length; o += 65535) recs.push(encodeRecord(FcgiType.PARAMS, id, nv.subarray(o, o + 65535)));
    recs.push(encodeRecord(FcgiType.PARAMS, id));
    this.send(...recs);
  }

  /** STDIN records for `data` (pieces of at most `piece` bytes), then the empty STDIN record. */
  stdin(id: number, data: Buffer | string = '', piece = 65535, end = true): void {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const recs: Buffer[] = [];
    for (let o = 0; o < buf.length; o += piece) recs.push(encodeRecord(FcgiType.STDIN, id, buf.subarray(o, o + piece)));
    if (end) recs.push(encodeRecord(FcgiType.STDIN, id));
    this.send(...recs);
  }

  ended(id: number): FcgiRecord | undefined {
    return this.records.find((r) => r.type === FcgiType.END_REQUEST && r.requestId === id);
  }

  /** Waits for END_REQUEST of `id` and returns the response and its protocol status. */
  async response(id: number, ms = 5000): Promise<CgiReply & { protocolStatus: number; stderr: string }> {
    await this.until(() => this.ended(id) !== undefined, ms);
    const mine = this.records.filter((r) => r.requestId === id);
    const stdout = Buffer.concat(mine.filter((r) => r.type === FcgiType.STDOUT).map((r) => r.content));
    const stderr = Buffer.concat(mine.filter((r) => r.type === FcgiType.STDERR).map((r) => r.content)).toString();
    return { ...parseCgiReply(stdout), protocolStatus: this.ended(id)!.content[4]!, stderr };
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Params for `METHOD uri` as nginx's recipe sends them, mounted at `scriptName`. */
export function cgiParams(
  method: string,
  uri: string,
  extra: Record<string, string> = {},
  scriptName = '',
): Record<string, string> {
  const q = uri.indexOf('?');
  const path = q === -1 ? uri : uri.slice(0, q);
  return {
    REQUEST_METHOD: method,
    REQUEST_URI: uri,
    SCRIPT_NAME: scriptName,
    PATH_INFO: decodeURIComponent(path.slice(scriptName.length)),
    QUERY_STRING: q === -1 ? '' : uri.slice(q + 1),
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '8080',
    REMOTE_ADDR: '192.0.2.9',
    REMOTE_PORT: '5000',
    HTTP_HOST: 'example.test:8080',
    ...extra,
  };
}
