// The members of a Request that only channels, the Site and Trellis's own resources may use, kept
// off the public `Request` type: the Request class hands this module an accessor to its private
// members when it loads. Not exported from 'trellis'.
import { headerKey } from './http/response-headers.js';
import type { Request } from './request.js';

/** What the Request class installs: access to its private members. */
export interface RequestInternals {
  connectionLost(request: Request, reason: Error): void;
  setTrustedHeader(request: Request, name: string, value: string, key: string): void;
  resetResponse(request: Request): void;
}

let internals: RequestInternals | null = null;

/** Called once, by the Request class as it is defined. */
export function installRequestInternals(given: RequestInternals): void {
  if (internals !== null) throw new Error('Request internals are already installed');
  internals = given;
}

/**
 * The client went away before the response was finished (a channel saw the connection close, a
 * reset, an abort record): `notifyFinish()` rejects with `reason`, the access log marks the line
 * `aborted`. Nothing happens once the response is complete.
 */
export function connectionLost(request: Request, reason: Error = new Error('Connection lost')): void {
  internals!.connectionLost(request, reason);
}

/**
 * Sets a response header whose name and value were validated beforehand (the Site's defaults, a
 * File's own headers), without the checks of `setHeader`; `key` is the name in lower case, which
 * callers with a constant name pass to spare the lookup.
 */
export function setTrustedHeader(request: Request, name: string, value: string, key: string = headerKey(name)): void {
  internals!.setTrustedHeader(request, name, value, key);
}

/** Forgets every response header, cookie and encoder, and the status (the Site, before an error page). */
export function resetResponse(request: Request): void {
  internals!.resetResponse(request);
}
