import { useId, useState, type FormEvent } from "react";
import { unwrap, uuid4, type Clients, type LedgerEntry, type Problem, type TokenType } from "./api/client";
import { asProblem } from "./hooks";
import { ProblemMessage } from "./Problem";

export function Admin(props: { api: Clients; tokenTypes: TokenType[]; onTokenTypesChanged: () => void }) {
  return (
    <div className="columns">
      <TokenTypes {...props} />
      <Credit api={props.api} tokenTypes={props.tokenTypes} />
    </div>
  );
}

function TokenTypes({ api, tokenTypes, onTokenTypesChanged }: { api: Clients; tokenTypes: TokenType[]; onTokenTypesChanged: () => void }) {
  const [code, setCode] = useState("");
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const ids = { code: useId(), name: useId() };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      unwrap(await api.budget.POST("/api/budget/token-types", { body: { code, name } }));
      setCode("");
      setName("");
      setProblem(null);
      onTokenTypesChanged();
    } catch (err) {
      setProblem(asProblem(err));
    }
  };
  return (
    <section aria-labelledby="types-heading" className="main-col">
      <h2 id="types-heading">Token types</h2>
      <table aria-label="Token types">
        <thead>
          <tr>
            <th scope="col">Code</th>
            <th scope="col">Name</th>
            <th scope="col">ID</th>
          </tr>
        </thead>
        <tbody>
          {tokenTypes.map((t) => (
            <tr key={t.id}>
              <td>{t.code}</td>
              <td>{t.name}</td>
              <td>
                <code>{t.id}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form onSubmit={submit} className="card" aria-label="New token type">
        <label htmlFor={ids.code}>Code (a slug, e.g. tok)</label>
        <input id={ids.code} value={code} onChange={(e) => setCode(e.target.value)} required spellCheck={false} />
        <label htmlFor={ids.name}>Name</label>
        <input id={ids.name} value={name} onChange={(e) => setName(e.target.value)} required />
        <button type="submit">Create token type</button>
        {problem ? <ProblemMessage problem={problem} onDismiss={() => setProblem(null)} /> : null}
      </form>
    </section>
  );
}

function Credit({ api, tokenTypes }: { api: Clients; tokenTypes: TokenType[] }) {
  const [owner, setOwner] = useState("");
  const [tokenType, setTokenType] = useState("");
  const [amount, setAmount] = useState("10");
  const [reason, setReason] = useState("");
  // One key per intended credit: resending the same form (a retry after a timeout) credits once.
  const [key, setKey] = useState(uuid4);
  const [done, setDone] = useState<LedgerEntry | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const ids = { owner: useId(), type: useId(), amount: useId(), reason: useId(), key: useId() };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const token_type_id = tokenType || tokenTypes[0]?.id;
    if (!token_type_id) return;
    try {
      const entry = unwrap(
        await api.budget.POST("/api/budget/credits", {
          params: { header: { "Idempotency-Key": key } },
          body: { owner_id: owner.trim(), token_type_id, amount: Number(amount), ...(reason.trim() ? { reason } : {}) },
        }),
      );
      setDone(entry);
      setProblem(null);
    } catch (err) {
      setDone(null);
      setProblem(asProblem(err));
    }
  };
  return (
    <section aria-labelledby="credit-heading">
      <h2 id="credit-heading">Credit an owner</h2>
      <form onSubmit={submit} className="card" aria-label="Credit">
        <label htmlFor={ids.owner}>Owner ID</label>
        <input id={ids.owner} value={owner} onChange={(e) => setOwner(e.target.value)} required spellCheck={false} />
        <label htmlFor={ids.type}>Token type</label>
        <select id={ids.type} value={tokenType} onChange={(e) => setTokenType(e.target.value)} required>
          {tokenTypes.map((t) => (
            <option key={t.id} value={t.id}>
              {t.code} — {t.name}
            </option>
          ))}
        </select>
        <label htmlFor={ids.amount}>Amount</label>
        <input id={ids.amount} type="number" min={1} step={1} value={amount} onChange={(e) => setAmount(e.target.value)} required />
        <label htmlFor={ids.reason}>Reason (optional)</label>
        <input id={ids.reason} value={reason} onChange={(e) => setReason(e.target.value)} />
        <label htmlFor={ids.key}>Idempotency key</label>
        <div className="row">
          <input id={ids.key} value={key} onChange={(e) => setKey(e.target.value)} required spellCheck={false} />
          <button
            type="button"
            onClick={() => {
              setKey(uuid4());
              setDone(null);
            }}
          >
            New key
          </button>
        </div>
        <p className="meta">Sending again with the same key credits nothing more; use a new key for a new credit.</p>
        <button type="submit" disabled={tokenTypes.length === 0}>
          Credit
        </button>
      </form>
      {done ? (
        <p role="status" className="ok">
          Credited {done.amount} to <code>{done.owner_id}</code> (entry <code>{done.id.slice(0, 8)}</code>).
        </p>
      ) : null}
      {problem ? <ProblemMessage problem={problem} onDismiss={() => setProblem(null)} /> : null}
    </section>
  );
}
