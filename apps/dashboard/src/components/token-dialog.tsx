/** Asks for the API token when the server answers 401; asked once, kept for the tab. */
import { useEffect, useId, useRef, useState, useSyncExternalStore, type FormEvent } from "react";
import type { AuthGate } from "../lib/auth-gate.ts";
import { buttonClass, primaryButtonClass } from "./ui.tsx";

/** The token dialog; renders nothing until a request needs a token. */
export function TokenDialog({ auth }: { auth: AuthGate }) {
  const request = useSyncExternalStore(auth.subscribe, auth.pendingRequest, () => null);
  const titleId = useId();
  const inputId = useId();
  const [value, setValue] = useState("");
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (request !== null) inputRef.current?.focus();
  }, [request]);

  if (request === null) return null;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (value.trim() === "") return;
    auth.provide(value);
    setValue("");
  };

  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-slate-950/80 p-4">
      <form
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        data-testid="token-dialog"
        onSubmit={submit}
        onKeyDown={(e) => {
          if (e.key === "Escape") auth.cancel();
        }}
        className="flex w-full max-w-md flex-col gap-3 rounded-lg border border-slate-600 bg-slate-900 p-4 shadow-xl"
      >
        <h2 id={titleId} className="text-lg font-semibold">
          API token required
        </h2>
        <p className="text-sm text-slate-300">
          {request.rejected
            ? "The server refused the token. Enter a valid one."
            : "This floodwatch server requires a token. It is kept for this browser tab only."}
        </p>
        <label htmlFor={inputId} className="text-sm font-medium">
          API token
        </label>
        <input
          ref={inputRef}
          id={inputId}
          type="password"
          autoComplete="off"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          data-testid="token-input"
          className="rounded border border-slate-600 bg-slate-950 px-2 py-1.5 font-mono"
        />
        <div className="flex justify-end gap-2">
          <button type="button" className={buttonClass} onClick={() => auth.cancel()}>
            Cancel
          </button>
          <button type="submit" className={primaryButtonClass} disabled={value.trim() === ""}>
            Use token
          </button>
        </div>
      </form>
    </div>
  );
}
