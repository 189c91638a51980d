import { useEffect, useMemo, useState } from "react";
import { Admin } from "./Admin";
import { clients, unwrap } from "./api/client";
import { Budget } from "./Budget";
import { usePoll } from "./hooks";
import { load, save, type Session } from "./session";
import { SignIn } from "./SignIn";
import { Tasks } from "./Tasks";

type Screen = "tasks" | "budget" | "admin";
const PATHS: Record<Screen, string> = { tasks: "/app/tasks", budget: "/app/budget", admin: "/app/admin" };

function screenOf(path: string): Screen {
  if (path.startsWith("/app/budget")) return "budget";
  if (path.startsWith("/app/admin")) return "admin";
  return "tasks";
}

export function App() {
  const [session, setSession] = useState<Session | null>(load);
  const [screen, setScreen] = useState<Screen>(screenOf(window.location.pathname));

  useEffect(() => {
    const onPop = () => setScreen(screenOf(window.location.pathname));
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  const go = (next: Screen) => {
    if (window.location.pathname !== PATHS[next]) window.history.pushState(null, "", PATHS[next]);
    setScreen(next);
  };

  const signIn = (s: Session) => {
    save(s);
    setSession(s);
    go("tasks");
  };
  const signOut = () => {
    save(null);
    setSession(null);
  };

  if (!session) {
    return (
      <main className="signin">
        <h1>Todos &amp; Budget</h1>
        <SignIn onSignedIn={signIn} />
      </main>
    );
  }
  return <SignedIn session={session} screen={screen} go={go} signOut={signOut} />;
}

function SignedIn(props: { session: Session; screen: Screen; go: (s: Screen) => void; signOut: () => void }) {
  const { session, screen, go, signOut } = props;
  const [expired, setExpired] = useState(false);
  const api = useMemo(() => clients(session.token, () => setExpired(true)), [session.token]);
  const tokenTypes = usePoll(async () => unwrap(await api.budget.GET("/api/budget/token-types")), 0, [api]);
  const types = tokenTypes.data ?? [];
  const tabs: [Screen, string][] = [["tasks", "Tasks"], ["budget", "Balances & ledger"]];
  if (session.admin) tabs.push(["admin", "Admin"]);

  return (
    <>
      <header>
        <h1>Todos &amp; Budget</h1>
        <nav aria-label="Main">
          {tabs.map(([key, label]) => (
            <a
              key={key}
              href={PATHS[key]}
              aria-current={screen === key ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                go(key);
              }}
            >
              {label}
            </a>
          ))}
        </nav>
        <div className="who">
          Signed in as <code data-testid="owner-id">{session.owner}</code>
          {session.admin ? <span className="badge">admin</span> : null}{" "}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        {expired ? (
          <div className="problem" role="alert">
            <strong>Your sign-in is no longer accepted</strong> (expired or invalid token).{" "}
            <button type="button" onClick={signOut}>
              Sign in again
            </button>
          </div>
        ) : null}
        {screen === "tasks" && <Tasks api={api} tokenTypes={types} />}
        {screen === "budget" && <Budget api={api} tokenTypes={types} />}
        {screen === "admin" && session.admin && (
          <Admin api={api} tokenTypes={types} onTokenTypesChanged={tokenTypes.reload} />
        )}
      </main>
    </>
  );
}
