import { useState } from 'preact/hooks';
import { errorText, request, session } from './api';
import { staffRoles } from './types';

const roleHelp: Record<(typeof staffRoles)[number], string> = {
  'orders.read': 'sales and support: every order, the analytics',
  'orders.approve': 'approvers: approve or reject orders above the threshold',
  'orders.admin': 'administrators: every order, the analytics',
};

/**
 * Signing in. Locally (the host's development sign-in) a user id and roles give a token, kept for this tab
 * in sessionStorage; on Azure App Service Authentication signs in with Microsoft Entra ID and its session
 * cookie does the rest.
 */
export function SignIn({
  devSignIn,
  note,
  onSignedIn,
}: {
  devSignIn: boolean;
  note?: string;
  onSignedIn: () => void;
}) {
  const [sub, setSub] = useState('');
  const [roles, setRoles] = useState<string[]>([]);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const { body } = await request<{ token: string; expiresAt: string }>('POST', '/.auth/login/dev', {
        body: { sub: sub.trim(), roles },
      });
      session.save(body.token);
      onSignedIn();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <article aria-labelledby="signin-title">
        <h1 id="signin-title">Orders dashboard</h1>
        {note && <p role="status">{note}</p>}
        {devSignIn ? (
          <form onSubmit={(e) => void submit(e)} aria-describedby="signin-help">
            <p id="signin-help">
              Development sign-in of this local host: choose who you are. Without a role you are a customer,
              who sees their own orders.
            </p>
            <label>
              User id
              <input
                name="sub"
                required
                autocomplete="username"
                maxLength={128}
                value={sub}
                onInput={(e) => setSub(e.currentTarget.value)}
              />
            </label>
            <fieldset>
              <legend>Roles</legend>
              {staffRoles.map((role) => (
                <label key={role}>
                  <input
                    type="checkbox"
                    name="role"
                    value={role}
                    checked={roles.includes(role)}
                    onChange={(e) =>
                      setRoles((rs) =>
                        e.currentTarget.checked ? [...rs, role] : rs.filter((r) => r !== role),
                      )
                    }
                  />
                  <code>{role}</code>: {roleHelp[role]}
                </label>
              ))}
            </fieldset>
            {error && (
              <p role="alert" class="error">
                Sign-in refused: {error}
              </p>
            )}
            <button type="submit" aria-busy={busy} disabled={busy}>
              Sign in
            </button>
          </form>
        ) : (
          <>
            <p>Sign in with your organisation's account to see the orders.</p>
            <p>
              <a role="button" href="/.auth/login/aad?post_login_redirect_uri=/">
                Sign in with Microsoft Entra ID
              </a>
            </p>
          </>
        )}
      </article>
    </main>
  );
}
