import { useId, useState, type FormEvent } from "react";
import { unwrap, type Clients, type Problem, type Task, type TaskCost, type TokenType } from "./api/client";
import { Balances } from "./Budget";
import { asProblem, usePoll } from "./hooks";
import { ProblemMessage } from "./Problem";

const PAGE_SIZE = 10;
type StatusFilter = "" | "open" | "completed";

export function Tasks({ api, tokenTypes }: { api: Clients; tokenTypes: TokenType[] }) {
  const [status, setStatus] = useState<StatusFilter>("");
  // Cursor pagination: the cursors of the pages before this one, and this page's cursor.
  const [cursors, setCursors] = useState<(string | null)[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const page = usePoll(
    async () =>
      unwrap(
        await api.todos.GET("/api/todos/tasks", {
          params: { query: { limit: PAGE_SIZE, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) } },
        }),
      ),
    0,
    [api, status, cursor, version],
  );
  const costs = usePoll(async () => unwrap(await api.budget.GET("/api/budget/task-costs")), 0, [api, version]);
  const costByTask = new Map((costs.data ?? []).map((c) => [c.task_id, c]));
  const changed = () => setVersion((v) => v + 1);
  const statusId = useId();

  return (
    <div className="columns">
      <section aria-labelledby="tasks-heading" className="main-col">
        <h2 id="tasks-heading">Tasks</h2>
        <NewTask
          api={api}
          onCreated={() => {
            setCursors([]);
            setCursor(null);
            changed();
          }}
        />
        <div className="row toolbar">
          <label htmlFor={statusId}>Show</label>
          <select
            id={statusId}
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as StatusFilter);
              setCursors([]);
              setCursor(null);
            }}
          >
            <option value="">all tasks</option>
            <option value="open">open tasks</option>
            <option value="completed">completed tasks</option>
          </select>
          <button type="button" onClick={changed}>
            Refresh
          </button>
        </div>
        {page.problem ? <ProblemMessage problem={page.problem} /> : null}
        {page.data && page.data.items.length === 0 ? <p>No tasks here yet.</p> : null}
        <ul className="tasks" aria-label="Tasks">
          {page.data?.items.map((task) => (
            <TaskItem
              key={task.id}
              api={api}
              task={task}
              cost={costByTask.get(task.id)}
              tokenTypes={tokenTypes}
              onChanged={changed}
            />
          ))}
        </ul>
        <nav className="row pager" aria-label="Task pages">
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
          <span>Page {cursors.length + 1}</span>
          <button
            type="button"
            disabled={!page.data?.next_cursor}
            onClick={() => {
              setCursors([...cursors, cursor]);
              setCursor(page.data?.next_cursor ?? null);
            }}
          >
            Older →
          </button>
        </nav>
      </section>
      <aside aria-labelledby="balances-aside">
        <h2 id="balances-aside">Your balances</h2>
        <Balances api={api} tokenTypes={tokenTypes} />
      </aside>
    </div>
  );
}

function NewTask({ api, onCreated }: { api: Clients; onCreated: () => void }) {
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const ids = { title: useId(), description: useId() };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const body = { title, ...(description.trim() ? { description } : {}) };
      unwrap(await api.todos.POST("/api/todos/tasks", { body }));
      setTitle("");
      setDescription("");
      setProblem(null);
      onCreated();
    } catch (err) {
      setProblem(asProblem(err));
    }
  };
  return (
    <form onSubmit={submit} className="card" aria-label="New task">
      <label htmlFor={ids.title}>Title</label>
      <input id={ids.title} value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={200} />
      <label htmlFor={ids.description}>Description (optional)</label>
      <textarea id={ids.description} rows={2} value={description} onChange={(e) => setDescription(e.target.value)} maxLength={2000} />
      <button type="submit">Add task</button>
      {problem ? <ProblemMessage problem={problem} onDismiss={() => setProblem(null)} /> : null}
    </form>
  );
}

function TaskItem(props: {
  api: Clients;
  task: Task;
  cost: TaskCost | undefined;
  tokenTypes: TokenType[];
  onChanged: () => void;
}) {
  const { api, task, cost, tokenTypes, onChanged } = props;
  const [editing, setEditing] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await action();
      setProblem(null);
      onChanged();
    } catch (err) {
      setProblem(asProblem(err));
    } finally {
      setBusy(false);
    }
  };
  const path = { params: { path: { task_id: task.id } } };
  const complete = () => run(async () => unwrap(await api.todos.POST("/api/todos/tasks/{task_id}/complete", path)));
  const remove = () => run(async () => unwrap(await api.todos.DELETE("/api/todos/tasks/{task_id}", path)));
  const headingId = useId();

  return (
    <li className={`task ${task.status}`} aria-labelledby={headingId} data-task-id={task.id}>
      {editing ? (
        <EditTask
          api={api}
          task={task}
          onDone={() => {
            setEditing(false);
            onChanged();
          }}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <>
          <h3 id={headingId}>
            {task.title} <span className={`status ${task.status}`}>{task.status}</span>
          </h3>
          {task.description ? <p>{task.description}</p> : null}
          <p className="meta">
            created {new Date(task.created_at).toLocaleString()}
            {task.completed_at ? `, completed ${new Date(task.completed_at).toLocaleString()}` : ""}
          </p>
          <div className="row actions">
            {task.status === "open" ? (
              <>
                <button type="button" onClick={complete} disabled={busy}>
                  Complete
                </button>
                <button type="button" onClick={() => setEditing(true)} disabled={busy}>
                  Edit
                </button>
              </>
            ) : null}
            <button type="button" className="danger" onClick={remove} disabled={busy}>
              Delete
            </button>
          </div>
        </>
      )}
      <CostEditor api={api} task={task} cost={cost} tokenTypes={tokenTypes} onChanged={onChanged} />
      {problem ? <ProblemMessage problem={problem} onDismiss={() => setProblem(null)} /> : null}
    </li>
  );
}

function EditTask(props: { api: Clients; task: Task; onDone: () => void; onCancel: () => void }) {
  const { api, task, onDone, onCancel } = props;
  const [title, setTitle] = useState(task.title);
  const [description, setDescription] = useState(task.description ?? "");
  const [problem, setProblem] = useState<Problem | null>(null);
  const ids = { title: useId(), description: useId() };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const body = { title, description: description.trim() ? description : null };
      unwrap(await api.todos.PATCH("/api/todos/tasks/{task_id}", { params: { path: { task_id: task.id } }, body }));
      onDone();
    } catch (err) {
      setProblem(asProblem(err));
    }
  };
  return (
    <form onSubmit={submit} aria-label={`Edit ${task.title}`}>
      <label htmlFor={ids.title}>Title</label>
      <input id={ids.title} value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={200} autoFocus />
      <label htmlFor={ids.description}>Description</label>
      <textarea id={ids.description} rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />
      <div className="row">
        <button type="submit">Save</button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {problem ? <ProblemMessage problem={problem} /> : null}
    </form>
  );
}

function CostEditor(props: {
  api: Clients;
  task: Task;
  cost: TaskCost | undefined;
  tokenTypes: TokenType[];
  onChanged: () => void;
}) {
  const { api, task, cost, tokenTypes, onChanged } = props;
  const [tokenType, setTokenType] = useState("");
  const [amount, setAmount] = useState("1");
  const [problem, setProblem] = useState<Problem | null>(null);
  const ids = { type: useId(), amount: useId() };
  const code = (id: string) => tokenTypes.find((t) => t.id === id)?.code ?? id.slice(0, 8);

  const act = async (action: () => Promise<unknown>) => {
    try {
      await action();
      setProblem(null);
      onChanged();
    } catch (err) {
      setProblem(asProblem(err));
    }
  };
  if (cost) {
    return (
      <div className="row cost">
        <span>
          Cost: <strong>{cost.amount} {code(cost.token_type_id)}</strong>
        </span>
        {task.status === "open" ? (
          <button
            type="button"
            onClick={() =>
              act(async () =>
                unwrap(await api.budget.DELETE("/api/budget/task-costs/{cost_id}", { params: { path: { cost_id: cost.id } } })),
              )
            }
          >
            Remove cost
          </button>
        ) : null}
        {problem ? <ProblemMessage problem={problem} onDismiss={() => setProblem(null)} /> : null}
      </div>
    );
  }
  if (task.status !== "open") return null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const token_type_id = tokenType || tokenTypes[0]?.id;
    if (!token_type_id) return;
    void act(async () =>
      unwrap(await api.budget.POST("/api/budget/task-costs", { body: { task_id: task.id, token_type_id, amount: Number(amount) } })),
    );
  };
  return (
    <form className="row cost" onSubmit={submit} aria-label={`Cost of ${task.title}`}>
      {tokenTypes.length === 0 ? (
        <span className="meta">No token types yet: an admin creates them.</span>
      ) : (
        <>
          <label htmlFor={ids.amount}>Cost</label>
          <input id={ids.amount} type="number" min={1} step={1} value={amount} onChange={(e) => setAmount(e.target.value)} required className="narrow" />
          <label htmlFor={ids.type} className="sr-only">
            Token type
          </label>
          <select id={ids.type} value={tokenType} onChange={(e) => setTokenType(e.target.value)}>
            {tokenTypes.map((t) => (
              <option key={t.id} value={t.id}>
                {t.code}
              </option>
            ))}
          </select>
          <button type="submit">Set cost</button>
        </>
      )}
      {problem ? <ProblemMessage problem={problem} onDismiss={() => setProblem(null)} /> : null}
    </form>
  );
}
