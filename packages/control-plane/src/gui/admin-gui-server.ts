/**
 * The Sluice UI's web server (`--admin-gui-listen`, default `127.0.0.1:8002`, Kong Manager's port):
 * static files only, no build step. It serves
 *
 * | path | what |
 * |---|---|
 * | `/` and any path without a dot | `ui/index.html` (the UI routes by the URL's hash) |
 * | `/assets/<file>` | the files of `packages/control-plane/ui/`, loaded once at start |
 * | `/vendor/preact-htm.js` | Preact, its hooks and htm as one ES module (npm package `htm`) |
 * | `/config.js` | `window.SLUICE_CONFIG`: the Admin API's URL and the entity kinds of the registry |
 *
 * The page talks to the Admin API directly (cross-origin; the control plane adds this server's
 * origins to the CORS allow list). Every answer carries a strict Content-Security-Policy (scripts
 * and styles from this origin only, connections to this origin and the Admin API), `nosniff`, and
 * `frame-ancestors 'none'`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENTITIES, ENTITY_KINDS } from '@sluice/protocol';
import type { ListenAddress } from '../control-plane.js';
import { ConfigurationError } from '../errors.js';

/** The UI's static files: `packages/control-plane/ui/` (the same relative path from src/ and dist/). */
export const GUI_ASSETS_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/** Largest asset file loaded, in bytes (the UI's files are a few KiB each). */
export const MAX_GUI_ASSET_BYTES = 1024 * 1024;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** What the page learns from `/config.js`. */
export interface GuiConfig {
  /** The Admin API's base URL as the browser reaches it (no trailing slash). */
  adminApiUrl: string;
  version: string;
  /** Every entity kind of the registry, in registry order: the UI's screens come from these and the schemas. */
  kinds: GuiKind[];
}

/** One entity kind as the UI sees it. */
export interface GuiKind {
  kind: string;
  adminName: string;
  nestedAdminName: string;
  singular: string;
  endpointKey: string | null;
  /** Foreign fields that give nested collections (`routes` under `service`). */
  parents: string[];
  /** Foreign fields: field name → referenced kind. */
  references: Record<string, string>;
}

/** The kinds of the registry as {@link GuiKind}s. */
export function guiKinds(): GuiKind[] {
  return ENTITY_KINDS.map((kind) => {
    const def = ENTITIES[kind];
    return {
      kind,
      adminName: def.adminName,
      nestedAdminName: def.nestedAdminName,
      singular: def.singular,
      endpointKey: def.endpointKey,
      parents: [...def.parents],
      references: Object.fromEntries(def.foreignFields.map((f) => [f.field, f.reference])),
    };
  });
}

/** Options of {@link AdminGuiServer}. */
export interface AdminGuiServerOptions {
  /**
   * The Admin API URL the page calls, or a function of the request (`Host` header) for an Admin
   * API on a wildcard address, reached under whatever name the UI was.
   */
  adminApiUrl: string | ((requestHost: string | undefined) => string);
  version: string;
  /** Directory of the static files (default {@link GUI_ASSETS_DIR}). */
  assetsDir?: string;
}

interface Asset {
  body: Buffer;
  type: string;
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type === undefined) continue;
    const body = readFileSync(join(dir, name));
    if (body.length > MAX_GUI_ASSET_BYTES) throw new ConfigurationError(`UI asset ${name} is over ${MAX_GUI_ASSET_BYTES} bytes`);
    assets.set(name, { body, type });
  }
  return assets;
}

/** The Preact + htm bundle shipped by the `htm` package (resolved from its main entry: `exports` hides the rest). */
function loadVendorBundle(): Buffer {
  const main = createRequire(import.meta.url).resolve('htm');
  return readFileSync(join(dirname(main), '..', 'preact', 'standalone.mjs'));
}

/** See the module comment. */
export class AdminGuiServer {
  readonly #options: AdminGuiServerOptions;
  readonly #assets: Map<string, Asset>;
  readonly #vendor: Buffer;
  readonly #server: Server;

  constructor(options: AdminGuiServerOptions) {
    this.#options = options;
    this.#assets = loadAssets(options.assetsDir ?? GUI_ASSETS_DIR);
    if (!this.#assets.has('index.html')) throw new ConfigurationError(`the UI's index.html is missing from ${options.assetsDir ?? GUI_ASSETS_DIR}`);
    this.#vendor = loadVendorBundle();
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 5_000;
    this.#server.requestTimeout = 30_000;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(address: ListenAddress): Promise<ListenAddress> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(address.port, address.host, () => {
        this.#server.off('error', reject);
        resolve({ host: address.host, port: (this.#server.address() as AddressInfo).port });
      });
    });
  }

  /** Stops accepting connections and closes idle ones. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
  }

  #adminApiUrl(req: IncomingMessage): string {
    const url = this.#options.adminApiUrl;
    return (typeof url === 'string' ? url : url(req.headers.host)).replace(/\/+$/, '');
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.#send(req, res, 405, 'text/plain; charset=utf-8', Buffer.from('Method not allowed\n'), { Allow: 'GET, HEAD' });
      return;
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const adminApiUrl = this.#adminApiUrl(req);
    if (path === '/config.js') {
      const config: GuiConfig = { adminApiUrl, version: this.#options.version, kinds: guiKinds() };
      this.#send(req, res, 200, CONTENT_TYPES['.js'], Buffer.from(`window.SLUICE_CONFIG = ${JSON.stringify(config)};\n`), {}, adminApiUrl);
      return;
    }
    if (path === '/vendor/preact-htm.js') {
      this.#send(req, res, 200, CONTENT_TYPES['.js'], this.#vendor, { 'Cache-Control': 'public, max-age=86400' }, adminApiUrl);
      return;
    }
    const asset = path.startsWith('/assets/') ? this.#assets.get(path.slice('/assets/'.length)) : !path.includes('.') ? this.#assets.get('index.html') : undefined;
    if (asset === undefined) {
      this.#send(req, res, 404, 'text/plain; charset=utf-8', Buffer.from('Not found\n'));
      return;
    }
    this.#send(req, res, 200, asset.type, asset.body, {}, adminApiUrl);
  }

  #send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: Buffer, headers: Record<string, string> = {}, adminApiUrl?: string): void {
    const connect = adminApiUrl === undefined || !URL.canParse(adminApiUrl) ? "'self'" : `'self' ${new URL(adminApiUrl).origin}`;
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': String(body.length),
      'Cache-Control': 'no-cache',
      'Content-Security-Policy': `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      ...headers,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
