// Who is signed in: a bearer token and what its claims say (for display only: the gateway and
// the services verify it). Kept in sessionStorage, so it is gone when the tab closes.
export interface Session {
  token: string;
  owner: string;
  admin: boolean;
  expires: number; // unix seconds
}

const KEY = "todos-budget.session";
const ADMIN_ROLE = "budget:admin";

export function fromToken(token: string): Session {
  const parts = token.trim().split(".");
  if (parts.length !== 3) throw new Error("That is not a JWT (three dot-separated parts).");
  const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
  const claims = JSON.parse(json) as { sub?: unknown; roles?: unknown; exp?: unknown };
  if (typeof claims.sub !== "string") throw new Error("The token has no subject (sub).");
  const roles = Array.isArray(claims.roles) ? claims.roles : [];
  return {
    token: token.trim(),
    owner: claims.sub,
    admin: roles.includes(ADMIN_ROLE),
    expires: typeof claims.exp === "number" ? claims.exp : 0,
  };
}

export function load(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const s = fromToken(raw);
    return s.expires * 1000 > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export function save(s: Session | null): void {
  if (s) sessionStorage.setItem(KEY, s.token);
  else sessionStorage.removeItem(KEY);
}

/** Development only: the launcher's web server mints a token with the development key. */
export async function devSignIn(owner: string, admin: boolean): Promise<Session> {
  const response = await fetch("/dev/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ owner_id: owner, admin }),
  });
  if (response.status === 404) {
    throw new Error(
      "Development sign-in is not available here: paste a token from your identity provider.",
    );
  }
  const body = (await response.json().catch(() => null)) as
    | { token?: string; detail?: string }
    | null;
  if (!response.ok || !body?.token) {
    throw new Error(body?.detail ?? `Sign-in failed (HTTP ${response.status}).`);
  }
  return fromToken(body.token);
}
