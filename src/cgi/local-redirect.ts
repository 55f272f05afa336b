// A CGI local redirect (RFC 3875 §6.2.2): `Location: /path?query` alone is served by the server
// itself, as a new GET from the top of the Site, and the client sees only that answer.
import { RequestHeaders } from '../http/headers.js';
import { hasCtl } from '../http/syntax.js';
import { Request, type ResponseSink } from '../request.js';
import { connectionLost } from '../request-internals.js';
import { CgiError } from './cgi-error.js';

/** Local redirects followed in a row before the answer is a 502 (SECURITY.md §2.6). */
export const MAX_LOCAL_REDIRECTS = 10;

/** How many local redirects led to each internal request. */
const depths = new WeakMap<Request, number>();

/** Request fields an internal GET does not carry: it has no body. */
const BODY_FIELDS = new Set(['content-length', 'content-type', 'transfer-encoding', 'expect']);

/** Response fields the outer request frames itself. */
const FRAMING_FIELDS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

/** A sink that hands the internal request's response to the outer request, field by field. */
function relaySink(outer: Request): ResponseSink {
  return {
    writeHead(code, reason, flat) {
      outer.setResponseCode(code, reason);
      const seen = new Set<string>();
      for (let i = 0; i < flat.length; i += 2) {
        const name = flat[i]!;
        const key = name.toLowerCase();
        if (FRAMING_FIELDS.has(key)) continue;
        // The inner Site set its own Date, Server and added headers: they replace the outer's.
        if (seen.has(key)) outer.addHeader(name, flat[i + 1]!);
        else outer.setHeader(name, flat[i + 1]!);
        seen.add(key);
      }
    },
    write: (chunk) => outer.write(chunk),
    end(chunk) {
      if (chunk) outer.write(chunk);
      outer.finish();
    },
    endText(text) {
      outer.write(text);
      outer.finish();
    },
    onDrain(listener) {
      void outer.drain().then(listener);
    },
    abort: () => outer.abortConnection(),
    closeAfterResponse: () => outer.closeConnection(),
    queuedBytes: () => null,
  };
}

/**
 * Serves `location` (a path with an optional query, from a script's `Location:` alone) for
 * `request`: a GET without a body, with the client's other header fields, traversed from the Site's
 * root, so every resource on the way decides again whether the client may have it. Its answer
 * becomes `request`'s. More than {@link MAX_LOCAL_REDIRECTS} in a row, or a path with control
 * characters, is a 502 through `fail`.
 */
export function localRedirect(request: Request, location: string, fail: (error: CgiError) => void): void {
  const depth = (depths.get(request) ?? 0) + 1;
  if (depth > MAX_LOCAL_REDIRECTS) {
    const message = `More than ${MAX_LOCAL_REDIRECTS} local redirects in a row, the last to ${location.slice(0, 200)}`;
    fail(new CgiError('TOO_MANY_REDIRECTS', message));
    return;
  }
  const site = request.site;
  if (!site || hasCtl(location)) {
    const message = `The local redirect to ${JSON.stringify(location.slice(0, 200))} cannot be served`;
    fail(new CgiError('BAD_OUTPUT', message));
    return;
  }
  const kept = request.requestHeaders.raw.filter(([name]) => !BODY_FIELDS.has(name.toLowerCase()));
  const headers = new RequestHeaders(kept);
  const inner = new Request(
    {
      method: 'GET',
      uri: location,
      clientproto: request.clientproto,
      headers,
      body: null,
      client: request.getClientAddress(),
      local: null,
      secure: request.isSecure(),
      channel: request.channel,
      contentLength: null,
    },
    relaySink(request),
  );
  depths.set(inner, depth);
  request.whenDone((outer) => {
    if (outer.disconnected) connectionLost(inner);
  });
  site.handle(inner);
}
