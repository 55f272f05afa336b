// Serving a plan: every listener started with a switch in front of its site, so that a new plan
// (SIGHUP) replaces the sites under listeners that stay open, and only listeners that changed are
// opened or closed.
import { chmodSync } from 'node:fs';
import type { Server as TlsServer } from 'node:tls';
import type { Endpoint } from '../channels/endpoint.js';
import { listenHttp, readTlsFiles, type TlsFiles } from '../channels/http.js';
import { ListenError, type Listener } from '../channels/listen.js';
import type { Request } from '../request.js';
import { Site } from '../site.js';
import { VERSION } from '../version.js';
import type { AppPlan, ListenSpec, SitePlan } from './app-plan.js';
import { gatewayUrl, startGatewayListeners } from './gateway-listeners.js';
import { DEV_CERTIFICATE, makeDevCertificate, type DevCertificate } from './dev-certificate.js';
import { CliError } from './options.js';

/** The development certificate of this process, made the first time an endpoint asks for one and kept across reloads. */
let devCertificate: DevCertificate | null = null;

/**
 * The banner lines about the development certificate, once one was made: browsers warn about it,
 * and its fingerprint lets a user check what they are shown.
 */
export function devCertificateNotes(): string[] {
  if (!devCertificate) return [];
  return [
    'HTTPS uses a self-signed DEVELOPMENT certificate made at start-up (browsers will warn; not for production):',
    `  valid for ${devCertificate.names.join(', ')} until ${devCertificate.validTo}`,
    `  SHA-256 ${devCertificate.fingerprint}`,
  ];
}

/**
 * The Site a listener holds: it hands each request to the site it currently points at. A request
 * keeps the site it started with (`Site.handle` sets `request.site`), so swapping never changes a
 * request in flight. Limits stay those of the first site: the listener's server was built with them.
 */
export class SiteSwitch extends Site {
  #current: Site;

  constructor(initial: Site) {
    super(initial.resource, { limits: initial.limits, logError: initial.logError, serverHeader: null });
    this.#current = initial;
  }

  /** The site requests go to now. */
  get current(): Site {
    return this.#current;
  }

  /** Sends the next requests to `site`. */
  swap(site: Site): void {
    this.#current = site;
    this.resource = site.resource;
  }

  /** The exemption from the per-IP cap is the current site's (the cap itself is the first site's). */
  override isUncapped(ip: string): boolean {
    return this.#current.isUncapped(ip);
  }

  override handle(request: Request): void {
    this.#current.handle(request);
  }

  override refuse(request: Request, status: number, detail: string): void {
    this.#current.refuse(request, status, detail);
  }
}

/**
 * What identifies a listener across reloads: its kind and address, without what can change under an
 * open socket (TLS files, a UNIX socket's mode). Gateways add their trust settings, which their
 * servers were built with.
 */
function listenerKey(spec: ListenSpec, plan: SitePlan): string {
  const ep = spec.endpoint;
  const where =
    ep.type === 'unix'
      ? `unix:${ep.path}`
      : ep.type === 'fd'
        ? `fd:${ep.fd}`
        : ep.type === 'systemd'
          ? `systemd:${ep.domain}:${ep.index}`
          : `${ep.type}:${ep.interface ?? ''}:${ep.port}`;
  if (spec.kind === 'http') return `http ${where}`;
  return `${spec.kind} ${where} ${JSON.stringify(plan.gateway)}`;
}

/** Every listener of `plan` with its key; a second listener with the same key (two on port 0) gets `#1`, and so on. */
function keyedListeners(plan: AppPlan): Array<{ spec: ListenSpec; plan: SitePlan; key: string }> {
  const seen = new Map<string, number>();
  return plan.sites.flatMap((s) =>
    s.listeners.map((spec) => {
      const base = listenerKey(spec, s);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      return { spec, plan: s, key: `${base}#${n}` };
    }),
  );
}

interface Running {
  key: string;
  spec: ListenSpec;
  listener: Listener;
  site: SiteSwitch;
}

function tlsOf(ep: Endpoint): TlsFiles | undefined {
  try {
    if (ep.type !== 'ssl') return undefined;
    if (ep.privateKey === DEV_CERTIFICATE) return (devCertificate ??= makeDevCertificate());
    return readTlsFiles(ep.privateKey, ep.certKey);
  } catch (err) {
    if (err instanceof ListenError) throw new CliError(err.message, 1);
    throw err;
  }
}

async function startOne(spec: ListenSpec, plan: SitePlan, site: SiteSwitch): Promise<Listener> {
  try {
    switch (spec.kind) {
      case 'http':
        return await listenHttp(site, spec.endpoint, tlsOf(spec.endpoint));
      case 'ajp': {
        const { listenAjp } = await import('../channels/ajp/server.js');
        const g = plan.gateway;
        return await listenAjp(site, spec.endpoint, {
          secret: g.ajpSecret,
          mount: g.mount,
          trustedPeers: g.trustedPeers,
        });
      }
      case 'fastcgi':
      case 'scgi': {
        const config = {
          fastcgi: [] as Endpoint[],
          scgi: [] as Endpoint[],
          gatewayTrustedPeers: plan.gateway.trustedPeers,
          mount: plan.gateway.mount,
        };
        config[spec.kind].push(spec.endpoint);
        const [listener] = await startGatewayListeners(site, config);
        return listener!;
      }
    }
  } catch (err) {
    if (err instanceof ListenError) throw new CliError(err.message, 1);
    throw err;
  }
}

/** How a listener is announced: `http://localhost:8080/`, `fastcgi://127.0.0.1:9000/`. */
function announce(r: Running): string {
  if (r.spec.kind === 'fastcgi' || r.spec.kind === 'scgi') return gatewayUrl(r.listener, r.spec.kind);
  return r.listener.url;
}

/** A plan being served; {@link RunningApp.replace} swaps in another. */
export class RunningApp {
  #running: Running[] = [];
  #plan: AppPlan;

  private constructor(plan: AppPlan) {
    this.#plan = plan;
  }

  /** Starts every listener of `plan`; if one fails, those started are closed and the error thrown. */
  static async start(plan: AppPlan): Promise<RunningApp> {
    const app = new RunningApp(plan);
    try {
      app.#running = await startAll(plan, new Map());
    } catch (err) {
      await plan.dispose();
      throw err;
    }
    return app;
  }

  /** The listeners open now, each with the URL to announce when it is not the listener's own (gateways). */
  get shown(): Array<{ listener: Listener; url?: string }> {
    return this.#running.map((r) => ({ listener: r.listener, url: announce(r) }));
  }

  /** The listeners open now. */
  get listeners(): Listener[] {
    return this.#running.map((r) => r.listener);
  }

  /** The plan served now. */
  get plan(): AppPlan {
    return this.#plan;
  }

  /**
   * Serves `plan` instead: listeners it keeps (same kind and address) switch to its sites and re-read
   * their TLS files, new ones open, dropped ones close after their in-flight requests. Certificates
   * and new listeners are made ready first; if any fails, nothing changes and the error is thrown.
   */
  async replace(plan: AppPlan): Promise<void> {
    const old = new Map(this.#running.map((r) => [r.key, r]));
    const wanted = keyedListeners(plan);
    const contexts = new Map<string, TlsFiles>();
    for (const w of wanted) {
      const kept = old.get(w.key);
      if (kept && w.spec.endpoint.type === 'ssl') contexts.set(w.key, tlsOf(w.spec.endpoint)!);
    }
    let started: Running[];
    try {
      started = await startAll(plan, old);
    } catch (err) {
      await plan.dispose();
      throw err;
    }
    const next: Running[] = [];
    for (const w of wanted) {
      const kept = old.get(w.key);
      if (!kept) {
        next.push(started.find((r) => r.key === w.key)!);
        continue;
      }
      old.delete(w.key);
      const tls = contexts.get(w.key);
      if (tls) (kept.listener.server as TlsServer).setSecureContext({ key: tls.key, cert: tls.cert });
      if (w.spec.endpoint.type === 'unix' && w.spec.endpoint.mode !== undefined)
        chmodSync(w.spec.endpoint.path, w.spec.endpoint.mode);
      kept.site.swap(w.plan.site);
      next.push({ ...kept, spec: w.spec });
    }
    this.#running = next;
    const previous = this.#plan;
    this.#plan = plan;
    for (const r of started) process.stdout.write(`Trellis ${VERSION} serving ${announce(r)}\n`);
    const shutdownTimeout = plan.sites[0]!.site.limits.shutdownTimeout;
    const closing = [...old.values()].map((r) => r.listener.close(shutdownTimeout));
    // Requests still running on the old sites may log; close their logs once they have had their time.
    setTimeout(() => void Promise.all(closing).then(() => previous.dispose()), shutdownTimeout).unref();
  }

  /** Stops accepting, lets in-flight requests finish (up to `timeoutMs`), then closes the logs. */
  async close(timeoutMs: number): Promise<void> {
    await Promise.all(this.#running.map((r) => r.listener.close(timeoutMs)));
    await this.#plan.dispose();
  }
}

/** Starts the listeners of `plan` that `running` does not already have; all or none. */
async function startAll(plan: AppPlan, running: Map<string, Running>): Promise<Running[]> {
  const started: Running[] = [];
  try {
    for (const { spec, plan: sitePlan, key } of keyedListeners(plan)) {
      if (running.has(key)) continue;
      const site = new SiteSwitch(sitePlan.site);
      started.push({ key, spec, site, listener: await startOne(spec, sitePlan, site) });
    }
  } catch (err) {
    await Promise.all(started.map((r) => r.listener.close(0)));
    throw err;
  }
  return started;
}
