// The site every gateway test serves (FastCGI, SCGI, behind each front end): a static file, a dynamic
// page that reports what the Request saw, an upload that answers with the body's length and hash, a
// redirect to an absolute URL, and a slow streaming page that records whether notifyFinish rejected.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Data } from '../../src/data.js';
import { File } from '../../src/static/file.js';
import { NOT_DONE_YET, type Request } from '../../src/request.js';
import { Resource, type RenderResult } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { redirectTo } from '../../src/util/redirect.js';

export const STATIC_TEXT = 'static file through the gateway\n';

/** What the streaming page saw, for disconnect tests. */
/**
 * A POST handler that reads its body only once `release()` is called: lets a test show that the
 * gateway applies backpressure to an upload nobody reads yet.
 */
export function slowUpload(): { resource: Resource; release(): void } {
  let release: () => void = () => {};
  class SlowUpload extends Resource {
    override isLeaf = true;
    override async POST(request: Request): Promise<string> {
      await new Promise<void>((resolve) => (release = resolve));
      return String((await request.readBody({ limit: 64 * 1024 * 1024 })).length);
    }
  }
  return { resource: new SlowUpload(), release: () => release() };
}

export interface StreamEvents {
  started: number;
  /** How many streams saw notifyFinish reject (the front end went away). */
  lost: number;
  /** Resolves each time a stream sees notifyFinish reject. */
  waitLost(): Promise<void>;
}

class Info extends Resource {
  override isLeaf = true;
  override GET(request: Request): RenderResult {
    request.setHeader('Content-Type', 'application/json');
    return JSON.stringify({
      method: request.method,
      uri: request.uri,
      prepath: request.prepath,
      postpath: request.postpath,
      prePathURL: request.prePathURL(),
      secure: request.isSecure(),
      client: request.getClientIP(),
      host: request.getHeader('host') ?? null,
      proxy: request.getHeader('proxy') ?? null,
      arg: request.arg('x') ?? null,
      channel: request.channel,
    });
  }
}

class Upload extends Resource {
  override isLeaf = true;
  override async POST(request: Request): Promise<string> {
    const body = await request.readBody({ limit: 16 * 1024 * 1024 });
    request.setHeader('Content-Type', 'text/plain');
    return `${body.length} ${createHash('sha256').update(body).digest('hex')}`;
  }
}

class Go extends Resource {
  override isLeaf = true;
  override GET(request: Request): RenderResult {
    return redirectTo(request.URLPath().sibling('info').toString(), request);
  }
}

/** Answers after 300 ms: several at once show concurrency (and multiplexing) through a front end. */
class Slow extends Resource {
  override isLeaf = true;
  override async GET(): Promise<string> {
    await new Promise((r) => setTimeout(r, 300));
    return 'slow\n';
  }
}

class Stream extends Resource {
  override isLeaf = true;
  constructor(private readonly events: StreamEvents & { notify(): void }) {
    super();
  }
  override GET(request: Request): RenderResult {
    this.events.started++;
    request.setHeader('Content-Type', 'text/plain');
    let n = 0;
    const timer = setInterval(() => {
      request.write(`line ${n++} ${'x'.repeat(1000)}\n`);
      if (n > 400) {
        clearInterval(timer);
        request.finish();
      }
    }, 25);
    request.notifyFinish().then(
      () => clearInterval(timer),
      () => {
        clearInterval(timer);
        this.events.lost++;
        this.events.notify();
      },
    );
    return NOT_DONE_YET;
  }
}

/** A fresh gateway test site and its stream events; with `filesDir`, `/files/static.txt` is a real file served by File. */
export function gatewaySite(options: { filesDir?: string } = {}): { site: Site; events: StreamEvents } {
  let waiters: Array<() => void> = [];
  const events = {
    started: 0,
    lost: 0,
    waitLost: () => new Promise<void>((resolve) => waiters.push(resolve)),
    notify: () => {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    },
  };
  const root = new Resource();
  root.putChild('', new Data('gateway root\n', 'text/plain'));
  root.putChild('static.txt', new Data(STATIC_TEXT, 'text/plain; charset=utf-8'));
  root.putChild('info', new Info());
  root.putChild('upload', new Upload());
  root.putChild('go', new Go());
  root.putChild('stream', new Stream(events));
  root.putChild('slow', new Slow());
  if (options.filesDir) {
    writeFileSync(join(options.filesDir, 'static.txt'), STATIC_TEXT);
    root.putChild('files', new File(options.filesDir));
  }
  const site = new Site(root, { logError: () => {} });
  return { site, events };
}
