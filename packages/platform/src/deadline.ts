/**
 * Waits for an operation at most `ms`. Redis connections queue commands while Redis is away
 * (`maxRetriesPerRequest: null`), which is right for a brief restart but would hang a request
 * forever on a lasting outage; this turns the wait into an error. The operation itself is not
 * cancelled (a queued command may still run once Redis is back), and a late rejection after the
 * deadline is swallowed, since nobody is left to hear it.
 */
export async function withDeadline<T>(
  operation: Promise<T>,
  ms: number,
  timeoutError: () => Error,
): Promise<T> {
  operation.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  try {
    return await Promise.race([operation, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
