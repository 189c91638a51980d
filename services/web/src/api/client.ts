// Typed clients of the two public APIs (types generated from the services' OpenAPI documents
// by openapi-typescript). Every call goes through the gateway, same origin, with the user's token.
import createClient, { type Middleware } from "openapi-fetch";
import type { components as BudgetComponents, paths as BudgetPaths } from "./budget.gen";
import type { components as TodosComponents, paths as TodosPaths } from "./todos.gen";

export type Task = TodosComponents["schemas"]["TaskOut"];
export type TaskPage = TodosComponents["schemas"]["TaskPage"];
export type Balance = BudgetComponents["schemas"]["BalanceOut"];
export type LedgerEntry = BudgetComponents["schemas"]["LedgerEntryOut"];
export type TaskCost = BudgetComponents["schemas"]["TaskCostOut"];
export type TokenType = BudgetComponents["schemas"]["TokenTypeOut"];

/** An RFC 9457 problem document (docs/architecture.md#errors), with the extension fields we show. */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  reasons?: string[];
  vetoed_by?: string[];
  hooks?: string[];
  [key: string]: unknown;
}

/** A refused or failed call, carrying the problem document the server sent. */
export class ApiError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.problem = problem;
  }
}

export function toProblem(error: unknown, response: Response): Problem {
  if (error && typeof error === "object" && "status" in error && "title" in error) {
    const p = error as Partial<Problem>;
    return {
      ...p,
      title: String(p.title),
      status: Number(p.status),
      detail: typeof p.detail === "string" ? p.detail : "",
      code: typeof p.code === "string" ? p.code : "error",
    };
  }
  // Not a problem document (a proxy page, a network failure): say what we know.
  return {
    title: response.statusText || "Request failed",
    status: response.status,
    detail: typeof error === "string" && error.length < 300 ? error : `HTTP ${response.status}`,
    code: "http_error",
  };
}

/** The data of a successful call, or an ApiError with the problem document. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  throw new ApiError(toProblem(result.error, result.response));
}

/** Both clients, sending `token`; `onUnauthorized` hears of a 401 (an expired or revoked token). */
export function clients(token: string, onUnauthorized: () => void = () => {}) {
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) onUnauthorized();
      return response;
    },
  };
  const todos = createClient<TodosPaths>({ baseUrl: window.location.origin });
  const budget = createClient<BudgetPaths>({ baseUrl: window.location.origin });
  todos.use(auth);
  budget.use(auth);
  return { todos, budget };
}

export type Clients = ReturnType<typeof clients>;

/** A random UUID, also outside secure contexts (where crypto.randomUUID is missing). */
export function uuid4(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
