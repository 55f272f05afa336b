// The page `trellis web` serves when it was given nothing to serve.
import { Resource, type RenderResult } from '../resource.js';
import type { Request } from '../request.js';
import { VERSION } from '../version.js';

const PAGE = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Trellis</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222}code{background:#f3f3f3;padding:0 .3em}</style>
</head><body>
<h1>Trellis is running</h1>
<p>This is Trellis ${VERSION}. Nothing is configured to be served yet.</p>
<ul>
<li>Serve a directory: <code>trellis web --path ./public</code></li>
<li>Serve your own resource: <code>trellis web --class ./site.ts#Root</code></li>
<li>All options: <code>trellis web --help</code></li>
</ul>
</body></html>
`;

/** A leaf answering every path with the welcome page. */
export class Welcome extends Resource {
  override isLeaf = true;

  override GET(request: Request): RenderResult {
    request.setHeader('Content-Type', 'text/html; charset=utf-8');
    return PAGE;
  }
}
