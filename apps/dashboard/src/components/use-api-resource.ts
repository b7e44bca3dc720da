/**
 * What a panel reads from the API: loaded when its dependencies change or on `reload()`, and
 * again every `pollMs` when given (the fallback for changes the live socket does not announce).
 * An answer that arrives after the panel moved on (new dependencies, unmounted) is dropped; a
 * failed load keeps the last data and says why. The one home of the load / poll / reload cycle
 * that the models, incidents and mutes panels share.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { messageOf } from "../lib/live-session.ts";

/** The data (null until the first answer), the last load's error, and a way to load again. */
export interface ApiResource<T> {
  data: T | null;
  error: string | null;
  reload: () => void;
}

export function useApiResource<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  pollMs?: number,
): ApiResource<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reloads, setReloads] = useState(0);
  // The latest `load` without restarting the cycle on every render: `deps` say when to restart.
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = () => {
      loadRef
        .current()
        .then(
          (value) => {
            if (!current) return;
            setData(value);
            setError(null);
          },
          (err: unknown) => {
            if (current) setError(messageOf(err));
          },
        )
        .finally(() => {
          if (current && pollMs !== undefined) timer = setTimeout(run, pollMs);
        });
    };
    run();
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [pollMs, reloads, ...deps]);
  const reload = useCallback(() => setReloads((n) => n + 1), []);
  return { data, error, reload };
}
