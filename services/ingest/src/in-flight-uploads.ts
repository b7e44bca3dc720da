import type { UploadInterruption } from "./upload-errors.ts";

/**
 * The uploads being read right now, so shutdown can stop them: each is failed with a reason
 * (what it queued is still scored) instead of being cut off without a trace.
 */
export class InFlightUploads {
  readonly #controllers = new Set<AbortController>();

  /** Starts tracking an upload; returns the function that stops tracking it. */
  track(controller: AbortController): () => void {
    this.#controllers.add(controller);
    return () => {
      this.#controllers.delete(controller);
    };
  }

  /** Uploads in flight. */
  get size(): number {
    return this.#controllers.size;
  }

  /** Stops every upload in flight; returns how many were stopped. */
  abortAll(reason: UploadInterruption = "shutdown"): number {
    const stopped = this.#controllers.size;
    for (const controller of this.#controllers) controller.abort(reason);
    this.#controllers.clear();
    return stopped;
  }
}
