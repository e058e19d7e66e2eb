/**
 * Matches request paths against Azure Functions route templates (`orders/{orderId}/items`, optional
 * `{id?}`, constrained `{id:int}`, catch-all `{*rest}`), most specific first as ASP.NET routing does:
 * more literal segments win over parameters.
 */
export interface Route<T> {
  template: string;
  methods: string[];
  target: T;
}

interface Compiled<T> extends Route<T> {
  regex: RegExp;
  names: string[];
  literals: number;
}

export interface Match<T> {
  target: T;
  params: Record<string, string>;
}

/** Why a path matched no route: none serves it, the method is wrong (with the allowed ones), or its encoding is broken. */
export type Miss =
  { miss: 'route' } | { miss: 'method'; allowed: string[] } | { miss: 'encoding'; param: string };

function compile<T>(route: Route<T>): Compiled<T> {
  const names: string[] = [];
  let literals = 0;
  const parts = route.template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]+)?(\?)?\}$/.exec(segment);
      if (!param) {
        literals++;
        return '/' + segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }
      names.push(param[2]);
      if (param[1]) return '(?:/(.*))?';
      return param[3] ? '(?:/([^/]+))?' : '/([^/]+)';
    });
  return { ...route, names, literals, regex: new RegExp(`^${parts.join('')}/?$`, 'i') };
}

export class Router<T> {
  private readonly routes: Compiled<T>[] = [];

  add(route: Route<T>): void {
    this.routes.push(compile(route));
    this.routes.sort((a, b) => b.literals - a.literals || a.names.length - b.names.length);
  }

  match(method: string, path: string): Match<T> | Miss {
    const allowed = new Set<string>();
    for (const r of this.routes) {
      const m = r.regex.exec(path);
      if (!m) continue;
      if (!r.methods.includes(method.toUpperCase())) {
        r.methods.forEach((x) => allowed.add(x));
        continue;
      }
      const params: Record<string, string> = {};
      for (const [k, name] of r.names.entries()) {
        if (m[k + 1] === undefined) continue;
        try {
          params[name] = decodeURIComponent(m[k + 1]);
        } catch {
          return { miss: 'encoding', param: name };
        }
      }
      return { target: r.target, params };
    }
    return allowed.size ? { miss: 'method', allowed: [...allowed].sort() } : { miss: 'route' };
  }
}
