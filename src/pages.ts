// The HTML of generated pages: error pages, the processing-failed page, tracebacks, redirects.
import { escapeHtml } from './internal/escape.js';

/**
 * The look every generated page shares (listings, error pages): system fonts, a narrow column that
 * fits a 390 px phone, light and dark schemes. No external resources, so pages keep a strict CSP.
 */
export const PAGE_STYLE =
  ':root{color-scheme:light dark;--fg:#1b1b1b;--mute:#666;--line:#e6e6e6;--hover:#f3f6fa;--link:#0b57d0;--bg:#fff}' +
  '@media (prefers-color-scheme:dark){:root{--fg:#ddd;--mute:#999;--line:#2a2d33;--hover:#1f2329;--link:#8ab4f8;--bg:#16181c}}' +
  '*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:64em;' +
  'padding:1.5em 1em;color:var(--fg);background:var(--bg)}a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}' +
  'h1{font-size:1.3em;font-weight:600;margin:0 0 .8em;overflow-wrap:anywhere}footer{color:var(--mute);font-size:.85em;margin-top:1.2em}' +
  '.status{color:var(--mute);font-weight:400;margin-right:.4em}main p{overflow-wrap:anywhere}h1 nav{display:inline}';

/** An error page in the shared look: every piece of text is HTML-escaped; the title stays `CODE - brief`. */
export function errorPageHtml(code: number, brief: string, detail: string): string {
  const title = `${code} - ${escapeHtml(brief)}`;
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${title}</title><style>${PAGE_STYLE}</style></head>` +
    `<body><main><h1><span class="status">${code}</span>${escapeHtml(brief)}</h1><p>${escapeHtml(detail)}</p></main></body></html>\n`
  );
}

/** The page for an unhandled error when tracebacks are off (it says nothing about the cause). */
export const PROCESSING_FAILED_HTML = errorPageHtml(
  500,
  'Processing Failed',
  'The server could not answer this request.',
);

/** The traceback page shown with `--display-tracebacks`: the error's stack, escaped. */
export function tracebackHtml(error: unknown, request: { method: string; uri: string }): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return (
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>web.Server Traceback (most recent call first)</title></head>` +
    `<body><b>web.Server Traceback (most recent call first):</b>` +
    `<p>${escapeHtml(request.method)} ${escapeHtml(request.uri)}</p><pre>${escapeHtml(text)}</pre></body></html>\n`
  );
}

/** The body of a redirect: a meta refresh and a link, the URL escaped (CVE-2024-41810). */
export function redirectHtml(url: string): string {
  const safe = escapeHtml(url);
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;URL=${safe}"></head><body bgcolor="#FFFFFF" text="#000000"><a href="${safe}">click here</a></body></html>\n`;
}
