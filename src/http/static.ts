/**
 * The import wizard's page (web/, built into dist/web by `npm run build`), served at `/` and
 * `/ui/{file}` without a token: the page asks for one itself and sends it with each API call.
 * Only the files the build put there are served, with a strict Content-Security-Policy: no
 * inline script or style, nothing from another origin.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import { SluiceError } from '../base/errors.js';

/** Where the build puts the page: dist/web, beside dist/src. */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Whether a request path is the page's: served without a token. */
export function isPagePath(path: string): boolean {
  return path === '/' || path.startsWith('/ui/');
}

export class PageAssets {
  private readonly files = new Map<string, { type: string; body: Buffer }>();

  constructor(private readonly dir: string = WEB_DIR) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      names = [];
    }
    // Read once: a few small files, and no path from a request ever reaches the file system.
    for (const name of names) {
      const type = TYPES[extname(name)];
      if (type !== undefined && /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(name)) this.files.set(name, { type, body: readFileSync(join(dir, name)) });
    }
  }

  send(reply: FastifyReply, name: string): FastifyReply {
    const f = this.files.get(name);
    if (f === undefined) {
      throw new SluiceError('E_NOT_FOUND', name === 'index.html' ? `the wizard's page was not built (npm run build puts it in ${this.dir})` : `no file ${name.slice(0, 80)} in the wizard's page`);
    }
    return reply
      .type(f.type)
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .header('cache-control', 'no-cache')
      .send(f.body);
  }
}
