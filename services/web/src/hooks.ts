import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, type Problem } from "./api/client";

/** Load `fn` now and every `ms` (0: once), and again on `reload()`; keeps the last good data. */
export function usePoll<T>(fn: () => Promise<T>, ms: number, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const reload = useCallback(async () => {
    try {
      setData(await fnRef.current());
      setProblem(null);
    } catch (e) {
      setProblem(asProblem(e));
    }
  }, []);
  useEffect(() => {
    void reload();
    if (!ms) return;
    const timer = window.setInterval(() => void reload(), ms);
    return () => window.clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return { data, problem, reload };
}

export function asProblem(e: unknown): Problem {
  if (e instanceof ApiError) return e.problem;
  const detail = e instanceof Error ? e.message : String(e);
  return { title: "Something went wrong", status: 0, detail, code: "client_error" };
}
