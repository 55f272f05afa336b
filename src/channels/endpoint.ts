// Endpoint strings, after Twisted's strports: `tcp:8080:interface=127.0.0.1`,
// `ssl:8443:privateKey=key.pem:certKey=cert.pem`, `unix:/run/app.sock:mode=660`, and `fd:0` for a
// listening socket inherited from the parent process.
import { isAccountName } from '../users/names.js';

/** A parsed endpoint. */
export type Endpoint =
  | { type: 'tcp'; port: number; interface?: string; backlog?: number }
  | {
      type: 'ssl';
      port: number;
      interface?: string;
      backlog?: number;
      privateKey: string;
      certKey: string;
      extraCertChain?: string;
    }
  | { type: 'unix'; path: string; mode?: number; group?: string; backlog?: number; lockfile?: boolean }
  /**
   * A socket already listening, inherited as file descriptor `fd`: what a FastCGI front end that
   * spawns the application hands it (FCGI_LISTENSOCK_FILENO, fd 0: lighttpd `bin-path`, spawn-fcgi,
   * mod_fcgid), or a socket-activation manager.
   */
  | { type: 'fd'; fd: number }
  /**
   * A socket passed by systemd socket activation (`systemd:domain=INET:index=0`): descriptor
   * 3 + `index` of those `LISTEN_FDS` counts, for this process (`LISTEN_PID`). `domain` (INET, INET6
   * or UNIX) is what the socket must be.
   */
  | { type: 'systemd'; domain: 'INET' | 'INET6' | 'UNIX'; index: number };

/** A bad endpoint string; the message says what is wrong in one line. */
export class EndpointError extends Error {
  constructor(text: string, problem: string) {
    super(`bad endpoint "${text}": ${problem}`);
    this.name = 'EndpointError';
  }
}

/** Splits on unescaped `:`; `\` escapes `:`, `=` and `\`. */
function splitFields(text: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      current += `\u0000${text[++i]}`;
    } else if (c === ':') {
      fields.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  fields.push(current);
  return fields;
}

/** Removes the escape markers left by splitFields. */
function unescapeField(text: string): string {
  return text.replace(/\u0000(.)/g, '$1');
}

const KEYS: Record<Endpoint['type'], readonly string[]> = {
  tcp: ['port', 'interface', 'backlog'],
  ssl: ['port', 'interface', 'backlog', 'privateKey', 'certKey', 'extraCertChain'],
  unix: ['address', 'mode', 'group', 'backlog', 'lockfile'],
  fd: ['fileno'],
  systemd: ['domain', 'index'],
};

function parsePort(text: string, raw: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new EndpointError(raw, `port must be a number from 0 to 65535 (e.g. tcp:8080), not "${text}"`);
  }
  return Number(text);
}

function parseInt10(text: string, raw: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new EndpointError(raw, `${what} must be a number, not "${text}"`);
  return Number(text);
}

/**
 * Parses an endpoint string. A bare port (`8080`) means `tcp:8080`; `tcp6:PORT` listens on `::`.
 *
 * | input                                   | result                                        |
 * |-----------------------------------------|-----------------------------------------------|
 * | `tcp:8080:interface=127.0.0.1`          | tcp, port 8080 on 127.0.0.1                   |
 * | `ssl:8443:privateKey=k.pem`             | ssl, certKey defaults to privateKey           |
 * | `unix:/run/a.sock:mode=660`             | unix, mode 0o660                              |
 * | `unix:/run/a.sock:group=www-data`       | unix, group www-data, mode 0o660 unless given |
 * | `fd:0` (or `fd:fileno=0`)               | the listening socket inherited as fd 0        |
 * | `systemd:domain=INET:index=0`           | the first socket systemd passed (fd 3)        |
 * | `tcp:http`                              | EndpointError (port must be a number)         |
 */
export function parseEndpoint(text: string): Endpoint {
  const raw = text.trim();
  if (/^\d+$/.test(raw)) return { type: 'tcp', port: parsePort(raw, raw) };
  const fields = splitFields(raw);
  let kind = unescapeField(fields.shift() ?? '').toLowerCase();
  let ipv6 = false;
  if (kind === 'tcp6') {
    kind = 'tcp';
    ipv6 = true;
  }
  if (kind !== 'tcp' && kind !== 'ssl' && kind !== 'unix' && kind !== 'fd' && kind !== 'systemd') {
    throw new EndpointError(
      raw,
      `unknown type "${kind}" (use tcp:PORT, ssl:PORT:privateKey=KEY:certKey=CERT, unix:PATH, fd:N or systemd:domain=INET:index=0)`,
    );
  }
  const keys = KEYS[kind];
  const values = new Map<string, string>();
  let positional = 0;
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq === -1) {
      const key = keys[positional++];
      if (!key || values.has(key)) throw new EndpointError(raw, `unexpected value "${unescapeField(field)}"`);
      values.set(key, unescapeField(field));
    } else {
      const key = unescapeField(field.slice(0, eq));
      if (!keys.includes(key))
        throw new EndpointError(raw, `unknown option "${key}" for ${kind} (known: ${keys.join(', ')})`);
      values.set(key, unescapeField(field.slice(eq + 1)));
    }
  }
  if (kind === 'fd') {
    const fileno = values.get('fileno');
    if (fileno === undefined) throw new EndpointError(raw, 'a file descriptor number is required (e.g. fd:0)');
    return { type: 'fd', fd: parseInt10(fileno, raw, 'the file descriptor') };
  }
  if (kind === 'systemd') {
    const domain = (values.get('domain') ?? 'INET').toUpperCase();
    if (domain !== 'INET' && domain !== 'INET6' && domain !== 'UNIX')
      throw new EndpointError(raw, `domain must be INET, INET6 or UNIX, not "${values.get('domain')}"`);
    return { type: 'systemd', domain, index: parseInt10(values.get('index') ?? '0', raw, 'the index') };
  }
  const backlog = values.has('backlog') ? parseInt10(values.get('backlog')!, raw, 'backlog') : undefined;
  if (kind === 'unix') {
    const path = values.get('address');
    if (!path) throw new EndpointError(raw, 'a UNIX socket path is required (e.g. unix:/run/trellis.sock)');
    const ep: Endpoint = { type: 'unix', path };
    if (values.has('mode')) {
      const mode = values.get('mode')!;
      if (!/^[0-7]{3,4}$/.test(mode)) throw new EndpointError(raw, `mode must be octal like 660, not "${mode}"`);
      ep.mode = parseInt(mode, 8);
    }
    if (values.has('group')) {
      const group = values.get('group')!;
      if (!isAccountName(group)) throw new EndpointError(raw, `group must be a group name or number, not "${group}"`);
      ep.group = group;
      ep.mode ??= 0o660;
    }
    if (backlog !== undefined) ep.backlog = backlog;
    if (values.has('lockfile')) ep.lockfile = values.get('lockfile') === '1';
    return ep;
  }
  const portText = values.get('port');
  if (portText === undefined) throw new EndpointError(raw, `a port is required (e.g. ${kind}:8080)`);
  const port = parsePort(portText, raw);
  const iface = values.get('interface') ?? (ipv6 ? '::' : undefined);
  if (kind === 'tcp') {
    const ep: Endpoint = { type: 'tcp', port };
    if (iface !== undefined && iface !== '') ep.interface = iface;
    if (backlog !== undefined) ep.backlog = backlog;
    return ep;
  }
  const privateKey = values.get('privateKey') ?? 'server.pem';
  const ep: Endpoint = { type: 'ssl', port, privateKey, certKey: values.get('certKey') ?? privateKey };
  if (iface !== undefined && iface !== '') ep.interface = iface;
  if (backlog !== undefined) ep.backlog = backlog;
  if (values.has('extraCertChain')) ep.extraCertChain = values.get('extraCertChain')!;
  return ep;
}

/** The endpoint written back as a string (for messages and saved configs). */
export function formatEndpoint(ep: Endpoint): string {
  const esc = (s: string) => s.replace(/[\\:=]/g, (c) => `\\${c}`);
  switch (ep.type) {
    case 'tcp':
      return `tcp:${ep.port}${ep.interface ? `:interface=${esc(ep.interface)}` : ''}`;
    case 'ssl':
      return `ssl:${ep.port}${ep.interface ? `:interface=${esc(ep.interface)}` : ''}:privateKey=${esc(ep.privateKey)}:certKey=${esc(ep.certKey)}`;
    case 'unix':
      return `unix:${esc(ep.path)}${ep.mode !== undefined ? `:mode=${ep.mode.toString(8)}` : ''}${ep.group !== undefined ? `:group=${ep.group}` : ''}`;
    case 'fd':
      return `fd:${ep.fd}`;
    case 'systemd':
      return `systemd:domain=${ep.domain}:index=${ep.index}`;
  }
}
