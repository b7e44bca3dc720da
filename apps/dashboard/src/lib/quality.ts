/** Detection quality of labelled uploads, alone or pooled. */
import type { Quality, UploadStatus } from "@floodwatch/core/stream-contracts";
import { qualityFromCounts } from "@floodwatch/core/window-evaluation";

/** What the quality panel shows. */
export interface QualityView {
  quality: Quality;
  /** Labelled uploads that contributed. */
  uploads: number;
}

/**
 * Quality of the given uploads: one upload's own figures, or, for several, the confusion counts
 * pooled and the ratios recomputed (averaging ratios would weigh a 10-window file like a
 * 10,000-window one). Null when none is labelled or none has quality figures yet.
 */
export function qualityOf(uploads: Iterable<UploadStatus>): QualityView | null {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  let count = 0;
  let single: Quality | null = null;
  for (const upload of uploads) {
    if (!upload.labelled || upload.quality === null) continue;
    const q = upload.quality;
    tp += q.tp;
    fp += q.fp;
    fn += q.fn;
    tn += q.tn;
    count += 1;
    single = q;
  }
  if (count === 0) return null;
  if (count === 1 && single !== null) return { quality: single, uploads: 1 };
  return { quality: qualityFromCounts(tp, fp, fn, tn), uploads: count };
}
