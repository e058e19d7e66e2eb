import { HttpRequest, HttpResponseInit } from '@azure/functions';
import { apiPrefix } from '../http/routes';
import { builtPageFolder, loadStaticSite, StaticFile } from '../http/staticSite';
import { problem } from '../shared/problem';

/**
 * What the browser may do with the page: scripts, styles and data only from this origin (everything is
 * bundled, no CDN), inline style attributes (the charts set them), never framed.
 */
const securityHeaders = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

let site: ReadonlyMap<string, StaticFile> | undefined;
/** Loaded on first request, not at import, so an app without the page built still starts. */
const siteFiles = (): ReadonlyMap<string, StaticFile> => (site ??= loadStaticSite(builtPageFolder()));

function fileAnswer(file: StaticFile, method: string): HttpResponseInit {
  return {
    status: 200,
    headers: {
      ...securityHeaders,
      'content-type': file.contentType,
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    },
    body: method === 'HEAD' ? undefined : new Uint8Array(file.body),
  };
}

/**
 * Serves the dashboard built by `npm run build` (`dist/web`): `GET /` and top-level files (route `{file?}`),
 * and `GET /assets/{file}`. Paths are looked up in the list of built files only. `/api` itself answers 404
 * problem+json like any path no function serves; the page not built answers 404 saying how to build it.
 */
export async function dashboard(request: HttpRequest): Promise<HttpResponseInit> {
  const path = new URL(request.url).pathname.replace(/^\/+/, '');
  const name = path === '' ? 'index.html' : path;
  const files = siteFiles();
  const file = name.split('/')[0] === apiPrefix ? undefined : files.get(name);
  if (file) return fileAnswer(file, request.method);
  if (files.size === 0 && name === 'index.html') {
    return problem(404, 'page-not-built', 'the dashboard is not built: run `npm run build`');
  }
  return problem(404, 'no-route', `nothing is served at /${path}`);
}
