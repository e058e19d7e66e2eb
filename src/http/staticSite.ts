import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';

/** One built file of the page, read once into memory (the whole page is a few hundred KB). */
export interface StaticFile {
  body: Buffer;
  contentType: string;
  /** Vite's hashed asset names change with their content, so they may be cached for good. */
  immutable: boolean;
}

/** Content types of the files Vite writes (an unknown extension is served as bytes). */
const contentTypes = new Map([
  ['.html', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.ico', 'image/x-icon'],
  ['.json', 'application/json'],
  ['.woff2', 'font/woff2'],
  ['.txt', 'text/plain; charset=utf-8'],
]);

/** The folder `npm run build` writes the page to: `dist/web` of the package this file belongs to. */
export function builtPageFolder(from: string = __dirname): string | undefined {
  for (let dir = from; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'web');
  }
  return undefined;
}

/**
 * The built page as a map from URL path (`index.html`, `assets/index-3f2a.js`) to file: the only paths
 * served, so a request can never name a file outside the folder (no `..`, no encoded separators). An
 * absent folder (the page was not built) gives an empty site.
 */
export function loadStaticSite(folder: string | undefined): ReadonlyMap<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!folder || !existsSync(folder)) return files;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const urlPath = relative(folder, path).split(sep).join('/');
        files.set(urlPath, {
          body: readFileSync(path),
          contentType: contentTypes.get(extname(name).toLowerCase()) ?? 'application/octet-stream',
          immutable: urlPath.startsWith('assets/'),
        });
      }
    }
  };
  walk(folder);
  return files;
}
