// The development certificate `trellis web --https PORT` makes when given none, as Caddy's
// `tls internal` does: self-signed, for this machine's names, made with the openssl command.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TlsFiles } from '../channels/http.js';
import { CliError } from './options.js';

/** The key and certificate path an `ssl` endpoint names to be served with a development certificate. */
export const DEV_CERTIFICATE = '<development certificate>';

/** A freshly made development certificate. */
export interface DevCertificate extends TlsFiles {
  /** The names it is valid for (`DNS:localhost`, `IP:127.0.0.1`, ...). */
  names: string[];
  /** SHA-256 fingerprint, as browsers show it. */
  fingerprint: string;
  /** Last day it is valid. */
  validTo: string;
}

/** The names a development certificate covers: localhost, the loopback addresses, this host's name and addresses. */
export function devCertificateNames(host = hostname(), interfaces = networkInterfaces()): string[] {
  const names = new Set(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
  if (/^[A-Za-z0-9.-]+$/.test(host)) names.add(`DNS:${host}`);
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80:')) names.add(`IP:${a.address}`);
  }
  return [...names];
}

/**
 * Makes a self-signed certificate and key (EC P-256, valid 7 days) in a private temporary directory,
 * reads them, and removes the files: the key never stays on disk. Throws a one-line CliError when
 * openssl is missing or fails.
 */
export function makeDevCertificate(openssl = 'openssl'): DevCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-dev-cert-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const names = devCertificateNames();
  try {
    execFileSync(
      openssl,
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '7',
        '-subj',
        '/O=Trellis development certificate/CN=localhost',
        '-addext',
        `subjectAltName=${names.join(',')}`,
      ],
      { stdio: 'ignore', timeout: 30_000 },
    );
    const files = { key: readFileSync(key), cert: readFileSync(cert) };
    const x509 = new X509Certificate(files.cert);
    return { ...files, names, fingerprint: x509.fingerprint256, validTo: x509.validTo };
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CliError(
      missing
        ? '--https without --certificate needs the openssl command to make a development certificate; install openssl, or pass --certificate and --privkey'
        : `--https: could not make a development certificate with openssl (${(err as Error).message.split('\n')[0]}); pass --certificate and --privkey`,
      1,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
