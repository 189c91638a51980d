import { useId, useState } from "react";
import { unwrap, type Clients, type TokenType } from "./api/client";
import { usePoll } from "./hooks";
import { ProblemMessage } from "./Problem";

// A completion is debited asynchronously (outbox -> RabbitMQ -> budget's consumer): poll, so
// the debit shows up without a reload.
export const POLL_MS = 2000;
const LEDGER_PAGE = 20;

const codeOf = (types: TokenType[], id: string) => types.find((t) => t.id === id)?.code ?? id.slice(0, 8);

export function Balances({ api, tokenTypes }: { api: Clients; tokenTypes: TokenType[] }) {
  const balances = usePoll(async () => unwrap(await api.budget.GET("/api/budget/balances")), POLL_MS, [api]);
  if (balances.problem) return <ProblemMessage problem={balances.problem} />;
  if (!balances.data) return <p>Loading…</p>;
  if (balances.data.length === 0) return <p>No tokens yet.</p>;
  return (
    <table aria-label="Balances">
      <thead>
        <tr>
          <th scope="col">Token</th>
          <th scope="col">Balance</th>
          <th scope="col">Held</th>
          <th scope="col">Available</th>
        </tr>
      </thead>
      <tbody>
        {balances.data.map((b) => (
          <tr key={b.token_type_id} data-token={codeOf(tokenTypes, b.token_type_id)}>
            <th scope="row">{codeOf(tokenTypes, b.token_type_id)}</th>
            <td data-col="balance" className={b.balance < 0 ? "negative" : undefined}>{b.balance}</td>
            <td data-col="held">{b.held}</td>
            <td data-col="available">{b.available}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Budget({ api, tokenTypes }: { api: Clients; tokenTypes: TokenType[] }) {
  const [tokenType, setTokenType] = useState("");
  const [cursors, setCursors] = useState<(string | null)[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const ledger = usePoll(
    async () =>
      unwrap(
        await api.budget.GET("/api/budget/ledger", {
          params: {
            query: { limit: LEDGER_PAGE, ...(tokenType ? { token_type_id: tokenType } : {}), ...(cursor ? { cursor } : {}) },
          },
        }),
      ),
    cursor ? 0 : POLL_MS, // the newest page follows new entries; older pages stay put
    [api, tokenType, cursor],
  );
  const filterId = useId();

  return (
    <>
      <section aria-labelledby="balances-heading">
        <h2 id="balances-heading">Balances</h2>
        <p className="meta">Held: reserved by completions being checked. Available = balance − held.</p>
        <Balances api={api} tokenTypes={tokenTypes} />
      </section>
      <section aria-labelledby="ledger-heading">
        <h2 id="ledger-heading">Ledger</h2>
        <div className="row toolbar">
          <label htmlFor={filterId}>Token type</label>
          <select
            id={filterId}
            value={tokenType}
            onChange={(e) => {
              setTokenType(e.target.value);
              setCursors([]);
              setCursor(null);
            }}
          >
            <option value="">all</option>
            {tokenTypes.map((t) => (
              <option key={t.id} value={t.id}>
                {t.code}
              </option>
            ))}
          </select>
        </div>
        {ledger.problem ? <ProblemMessage problem={ledger.problem} /> : null}
        {ledger.data && ledger.data.items.length === 0 ? <p>No entries yet.</p> : null}
        {ledger.data && ledger.data.items.length > 0 ? (
          <table aria-label="Ledger">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Kind</th>
                <th scope="col">Amount</th>
                <th scope="col">Token</th>
                <th scope="col">Reason</th>
                <th scope="col">Reference</th>
              </tr>
            </thead>
            <tbody>
              {ledger.data.items.map((e) => (
                <tr key={e.id} data-kind={e.kind}>
                  <td>{new Date(e.created_at).toLocaleString()}</td>
                  <td>{e.kind}</td>
                  <td data-col="amount" className={e.amount < 0 ? "negative" : "positive"}>
                    {e.amount > 0 ? `+${e.amount}` : e.amount}
                  </td>
                  <td>{codeOf(tokenTypes, e.token_type_id)}</td>
                  <td>{e.reason ?? ""}</td>
                  <td>
                    <code title={e.reference_id ?? ""}>{e.reference_id ? e.reference_id.slice(0, 8) : ""}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        <nav className="row pager" aria-label="Ledger pages">
          <button
            type="button"
            disabled={cursors.length === 0}
            onClick={() => {
              setCursor(cursors[cursors.length - 1] ?? null);
              setCursors(cursors.slice(0, -1));
            }}
          >
            ← Newer
          </button>
          <button
            type="button"
            disabled={!ledger.data?.next_cursor}
            onClick={() => {
              setCursors([...cursors, cursor]);
              setCursor(ledger.data?.next_cursor ?? null);
            }}
          >
            Older →
          </button>
        </nav>
      </section>
    </>
  );
}
