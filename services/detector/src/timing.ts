/** Small timing helpers: waits that a shutdown can cut short, and bounded waits. */

/** Marks a wait that ran out of time. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/**
 * Waits for `promise` at most `ms`; resolves to {@link TIMED_OUT} when time runs out. The
 * promise is left running (a command to a Redis that is down stays queued until it is back).
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A sleep that {@link InterruptibleSleep.interrupt} ends early, for loops that must stop. */
export class InterruptibleSleep {
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** Sleeps `ms`, or until interrupted. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    });
  }

  /** Ends the current sleep, if any. */
  interrupt(): void {
    clearTimeout(this.#timer);
    this.#wake?.();
    this.#wake = undefined;
  }
}
