import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, errorText, get, onSignedOut, session } from './api';
import { href, Route, useRoute } from './router';
import { SignIn } from './signin';
import type { Me } from './types';
import { FunnelView } from './views/funnel';
import { OrderView } from './views/order';
import { OrdersView } from './views/orders';
import { OverviewView } from './views/overview';
import { ProcessMapView } from './views/processMap';
import { StreamView } from './views/stream';

type Auth =
  | { state: 'checking' }
  | { state: 'signedIn'; me: Me }
  | { state: 'signedOut'; devSignIn: boolean; note?: string }
  | { state: 'failed'; error: string };

/**
 * Whether this host offers the development sign-in (the local host, AUTH_MODE=development): it validates an
 * empty body (400, problem details) where it exists and answers 404 where it does not (Azure, where App
 * Service Authentication owns `/.auth/`).
 */
async function hasDevSignIn(): Promise<boolean> {
  try {
    const res = await fetch('/.auth/login/dev', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: '{}',
      credentials: 'same-origin',
    });
    return res.status !== 404 && res.status !== 405 && /json/.test(res.headers.get('content-type') ?? '');
  } catch {
    return false;
  }
}

/** Staff who read every order and the analytics; the rest see their own orders. */
export const canReadAll = (me: Me): boolean =>
  me.roles.includes('orders.read') || me.roles.includes('orders.admin');

interface NavItem {
  path: string;
  label: string;
  staff: boolean;
}
const nav: NavItem[] = [
  { path: 'overview', label: 'Overview', staff: true },
  { path: 'funnel', label: 'Funnel', staff: true },
  { path: 'process-map', label: 'Process map', staff: true },
  { path: 'stream', label: 'Live stream', staff: true },
  { path: 'orders', label: 'Orders', staff: false },
];

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const route = useRoute();

  const check = useCallback(async (note?: string) => {
    setAuth({ state: 'checking' });
    try {
      setAuth({ state: 'signedIn', me: await get<Me>('/api/me') });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        session.clear();
        setAuth({ state: 'signedOut', devSignIn: await hasDevSignIn(), note });
      } else setAuth({ state: 'failed', error: errorText(err) });
    }
  }, []);

  useEffect(() => {
    onSignedOut(() => void check('Your sign-in ended; sign in again.'));
    void check();
  }, [check]);

  const me = auth.state === 'signedIn' ? auth.me : undefined;
  const viewKey = route.path.join('/');
  useEffect(() => {
    // After navigating, move focus to the new view's heading (once it is there).
    if (!me) return;
    const t = setTimeout(() => document.getElementById('view-title')?.focus({ preventScroll: false }), 0);
    return () => clearTimeout(t);
  }, [viewKey, !!me]);

  if (auth.state === 'checking')
    return (
      <main id="main">
        <p aria-busy="true">Checking your sign-in…</p>
      </main>
    );
  if (auth.state === 'failed')
    return (
      <main id="main">
        <h1>Orders dashboard</h1>
        <p role="alert">The API did not answer: {auth.error}</p>
        <button type="button" onClick={() => void check()}>
          Try again
        </button>
      </main>
    );
  if (auth.state === 'signedOut')
    return <SignIn devSignIn={auth.devSignIn} note={auth.note} onSignedIn={() => void check()} />;

  const signedIn = auth.me;
  const staff = canReadAll(signedIn);
  const section = route.path[0] ?? (staff ? 'overview' : 'orders');
  const signOut = () => {
    if (session.token()) {
      session.clear();
      void check('Signed out.');
    } else location.assign('/.auth/logout?post_logout_redirect_uri=/');
  };

  return (
    <>
      <a
        class="skip"
        href="#view-title"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('view-title')?.focus();
        }}
      >
        Skip to content
      </a>
      <header>
        <nav aria-label="Views">
          <ul>
            <li>
              <strong>Orders dashboard</strong>
            </li>
          </ul>
          <ul>
            {nav
              .filter((n) => staff || !n.staff)
              .map((n) => (
                <li key={n.path}>
                  <a href={href([n.path])} aria-current={section === n.path ? 'page' : undefined}>
                    {n.label}
                  </a>
                </li>
              ))}
          </ul>
          <ul>
            <li class="who">
              <span>
                {signedIn.name ?? signedIn.id}{' '}
                <small>({signedIn.roles.length ? signedIn.roles.join(', ') : 'customer'})</small>
              </span>
            </li>
            <li>
              <button type="button" class="small" onClick={signOut}>
                Sign out
              </button>
            </li>
          </ul>
        </nav>
      </header>
      <main id="main">
        <View route={route} section={section} me={signedIn} staff={staff} />
      </main>
    </>
  );
}

function View({ route, section, me, staff }: { route: Route; section: string; me: Me; staff: boolean }) {
  // Keyed by the order, so one order's slider position and form never carry over to the next.
  if (section === 'orders' && route.path[1])
    return <OrderView key={route.path[1]} orderId={route.path[1]} me={me} />;
  if (section === 'orders') return <OrdersView route={route} staff={staff} />;
  const staffViews: Record<string, () => preact.JSX.Element> = {
    overview: () => <OverviewView />,
    funnel: () => <FunnelView route={route} />,
    'process-map': () => <ProcessMapView route={route} />,
    stream: () => <StreamView route={route} />,
  };
  const view = staffViews[section];
  if (!view)
    return (
      <>
        <h1 tabIndex={-1} id="view-title">
          Not found
        </h1>
        <p>
          There is no view <code>{section}</code>.{' '}
          <a href={href([staff ? 'overview' : 'orders'])}>Start here</a>.
        </p>
      </>
    );
  if (!staff)
    return (
      <>
        <h1 tabIndex={-1} id="view-title">
          For staff
        </h1>
        <p>
          This view needs the role <code>orders.read</code> or <code>orders.admin</code>.{' '}
          <a href={href(['orders'])}>Your orders</a>.
        </p>
      </>
    );
  return view();
}
