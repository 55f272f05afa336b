// Reads a byte stream of HTTP/1.1 requests the way the channel does, in memory: each head through
// the strict head parser, each body by Content-Length or the chunked decoder, until the bytes end,
// a refusal, an upgrade, or a connection that may not carry another request.
import { ChunkedDecoder } from '../../../src/http/chunked.js';
import { parseRequestHead, type HeadLimits } from '../../../src/channels/http1/request-head.js';

/** One request as parsed: header fields as `[name, value]` pairs in order. */
export interface ParsedMessage {
  method: string;
  url: string;
  /** `1.0` or `1.1`. */
  version: string;
  headers: Array<[string, string]>;
  /** The body, latin1, chunked coding removed. */
  body: string;
}

/**
 * What follows the last whole message: `none` (the bytes ended there), `partial` (they end inside a
 * request), `refused` (a parse error), `closed` (the connection may not carry more, and more came),
 * `upgrade` (the bytes after the head belong to another protocol).
 */
export type StreamEnd = 'none' | 'partial' | 'refused' | 'closed' | 'upgrade';

export interface StreamOutcome {
  messages: ParsedMessage[];
  end: StreamEnd;
}

export const DEFAULT_HEAD_LIMITS: HeadLimits = { maxUriLength: 8192, maxHeaderBytes: 16384, maxHeaderCount: 100 };

/** Parses `bytes` as a connection's requests, given whole. */
export function parseStream(bytes: Buffer, limits = DEFAULT_HEAD_LIMITS): StreamOutcome & { status?: number } {
  const messages: ParsedMessage[] = [];
  let at = 0;
  for (;;) {
    if (at === bytes.length) return { messages, end: 'none' };
    const r = parseRequestHead(bytes, at, bytes.length, limits);
    // Empty lines between requests are skipped (RFC 9112 §2.2): ending on them ends nothing.
    if (r.kind === 'partial') {
      return { messages, end: /^(\r\n)*\r?$/.test(bytes.toString('latin1', at)) ? 'none' : 'partial' };
    }
    if (r.kind === 'error') return { messages, end: 'refused', status: r.status };
    at += r.length;
    const head = r.head;
    const headers: Array<[string, string]> = [];
    for (let i = 0; i < head.rawHeaders.length; i += 2) headers.push([head.rawHeaders[i]!, head.rawHeaders[i + 1]!]);
    const version = `1.${head.minor}`;
    const message: ParsedMessage = { method: head.method, url: head.target, version, headers, body: '' };
    if (head.upgrade) {
      messages.push(message);
      return { messages, end: 'upgrade' };
    }
    if (head.chunked) {
      const decoder = new ChunkedDecoder();
      const used = decoder.push(bytes, at, (piece) => (message.body += piece.toString('latin1')));
      if (used < 0) return { messages, end: 'refused', status: 400 };
      at += used;
      if (!decoder.done) return { messages, end: 'partial' };
    } else if (head.contentLength !== null) {
      if (bytes.length - at < head.contentLength) return { messages, end: 'partial' };
      message.body = bytes.toString('latin1', at, at + head.contentLength);
      at += head.contentLength;
    }
    messages.push(message);
    if (!head.keepAlive) return { messages, end: at === bytes.length ? 'none' : 'closed' };
  }
}
