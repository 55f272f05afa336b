// The HTML of generated pages: error pages, the processing-failed page, tracebacks, redirects.
import { escapeHtml } from './internal/escape.js';

/** An error page: every piece of text is HTML-escaped. */
export function errorPageHtml(code: number, brief: string, detail: string): string {
  const title = `${code} - ${escapeHtml(brief)}`;
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${escapeHtml(brief)}</h1><p>${escapeHtml(detail)}</p></body></html>\n`;
}

/** The page for an unhandled error when tracebacks are off (it says nothing about the cause). */
export const PROCESSING_FAILED_HTML =
  '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Processing Failed</title></head><body><b>Processing Failed</b></body></html>\n';

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
