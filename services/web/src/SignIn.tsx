import { useId, useState, type FormEvent } from "react";
import { uuid4 } from "./api/client";
import { devSignIn, fromToken, type Session } from "./session";

/**
 * Development: pick or generate an owner, with an admin switch; the launcher's web server signs
 * the token with the development key (the browser never sees a key). Production: a token from
 * the identity provider, pasted here or handed over by its sign-in redirect (docs/web-ui.md#signing-in).
 */
export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [owner, setOwner] = useState(uuid4);
  const [admin, setAdmin] = useState(false);
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const ids = { owner: useId(), admin: useId(), token: useId() };

  const dev = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      onSignedIn(await devSignIn(owner.trim(), admin));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  const paste = (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      onSignedIn(fromToken(token));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <div className="cards">
      <form onSubmit={dev} className="card" aria-labelledby="dev-signin">
        <h2 id="dev-signin">Development sign-in</h2>
        <label htmlFor={ids.owner}>Owner ID (UUID)</label>
        <div className="row">
          <input id={ids.owner} value={owner} onChange={(e) => setOwner(e.target.value)} required spellCheck={false} />
          <button type="button" onClick={() => setOwner(uuid4())}>
            New owner
          </button>
        </div>
        <label className="check">
          <input id={ids.admin} type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} />
          Admin (may create token types and credit owners)
        </label>
        <button type="submit">Sign in</button>
      </form>
      <form onSubmit={paste} className="card" aria-labelledby="token-signin">
        <h2 id="token-signin">Sign in with a token</h2>
        <label htmlFor={ids.token}>Bearer token (JWT from your identity provider)</label>
        <textarea id={ids.token} rows={4} value={token} onChange={(e) => setToken(e.target.value)} required />
        <button type="submit">Use this token</button>
      </form>
      {error ? (
        <p className="problem" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}
