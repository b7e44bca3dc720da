/** How far a training job is, as one bar. */
import type { TrainingJobStatus } from "@floodwatch/core/stream-contracts";

/**
 * Share of the job done in [0, 1], or null while it cannot be measured (reading a file of unknown
 * length, waiting in the queue). Stages as the trainer reports them: `queued`, `reading`,
 * `windows`, `forest`, `calibration`, `evaluation`, `stored`. Growing the forest dominates training time, so it spans most of
 * the bar; the other stages are short steps.
 */
export function trainingFraction(job: TrainingJobStatus): number | null {
  if (job.state === "completed") return 1;
  if (job.state === "waiting") return null;
  const { stage, treesGrown, trees } = job.progress;
  switch (stage) {
    case "reading":
      return null;
    case "windows":
      return 0.1;
    case "forest":
      return trees > 0 ? 0.15 + 0.75 * Math.min(1, treesGrown / trees) : 0.15;
    case "calibration":
      return 0.92;
    case "evaluation":
      return 0.96;
    case "stored":
      return 1;
    default:
      return null;
  }
}

/** One line describing where the job is. */
export function trainingStageText(job: TrainingJobStatus): string {
  if (job.state === "failed") return `failed: ${job.error ?? "no reason given"}`;
  if (job.state === "completed") {
    return job.version === undefined ? "done" : `done: model ${job.version}`;
  }
  if (job.state === "waiting" || job.progress.stage === "queued") return "waiting for a trainer";
  const p = job.progress;
  switch (p.stage) {
    case "reading":
      return `reading the file: ${p.rowsRead.toLocaleString("en-US")} rows`;
    case "windows":
      return `building windows: ${p.windows.toLocaleString("en-US")}`;
    case "forest":
      return `growing trees: ${p.treesGrown} of ${p.trees}`;
    case "calibration":
      return "calibrating the threshold";
    case "evaluation":
      return "evaluating on the validation windows";
    case "stored":
      return "storing the model";
    default:
      return p.stage;
  }
}
