import type { Problem } from "./api/client";

/** A problem+json answer, told readably; the veto reasons and failed hooks listed. */
export function ProblemMessage({ problem, onDismiss }: { problem: Problem; onDismiss?: () => void }) {
  let headline = problem.title;
  if (problem.code === "vetoed") headline = "Completion refused";
  if (problem.code === "hook_unavailable") headline = "Completion could not be checked";
  return (
    <div className="problem" role="alert" data-code={problem.code}>
      <strong>{headline}</strong>{" "}
      <span className="code">({problem.code}, HTTP {problem.status})</span>
      {problem.code === "vetoed" && problem.reasons?.length ? (
        <ul aria-label="Veto reasons">
          {problem.reasons.map((r, i) => (
            <li key={i}>
              {r}
              {problem.vetoed_by?.length ? <span className="by"> — {problem.vetoed_by.join(", ")}</span> : null}
            </li>
          ))}
        </ul>
      ) : (
        <p>{problem.detail}</p>
      )}
      {problem.code === "hook_unavailable" ? (
        <p>
          A service that must approve completions did not answer
          {problem.hooks?.length ? ` (${problem.hooks.join(", ")})` : ""}. The task stays open; try
          again in a moment.
        </p>
      ) : null}
      {onDismiss ? (
        <button type="button" className="link" onClick={onDismiss}>
          Dismiss
        </button>
      ) : null}
    </div>
  );
}
