import { useEffect, useState } from 'preact/hooks';

/**
 * Hash routes (`#/funnel?window=7d`): the server serves `/` and the assets only, and a route can be
 * bookmarked and shared.
 */
export interface Route {
  /** Path segments after `#/`, decoded: `#/orders/o-1` → ['orders', 'o-1']. */
  path: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const [pathText, queryText = ''] = text.split('?', 2) as [string, string?];
  const path = pathText
    .split('/')
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { path, query: new URLSearchParams(queryText) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** `#/a/b?x=1` from path segments and query values (empty ones left out; arrays repeat). */
export function href(
  path: string[],
  params: Record<string, string | number | readonly string[] | undefined | null> = {},
): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) for (const item of v as readonly string[]) q.append(k, item);
    else q.set(k, String(v));
  }
  const text = q.toString();
  return '#/' + path.map(encodeURIComponent).join('/') + (text ? `?${text}` : '');
}

export const orderHref = (orderId: string): string => href(['orders', orderId]);

/** Replaces the current entry (a control's change), so Back leaves the view rather than undoing each choice. */
export function replaceHash(target: string): void {
  history.replaceState(null, '', target);
  dispatchEvent(new HashChangeEvent('hashchange'));
}
