/** Detection quality so far, when the shown uploads carry labels. */
import type { UploadStatus } from "@floodwatch/core/stream-contracts";
import { formatCount, formatRatio } from "../lib/format.ts";
import { qualityOf } from "../lib/quality.ts";
import { Panel } from "./ui.tsx";

/** The quality panel, for the selected upload or every labelled one pooled. */
export function QualityPanel({
  uploads,
  selected,
}: {
  uploads: readonly UploadStatus[];
  selected: UploadStatus | null;
}) {
  const view = qualityOf(selected === null ? uploads : [selected]);
  return (
    <Panel id="quality" title="Detection quality" testId="quality-panel">
      {view === null ? (
        <p className="text-sm text-slate-300">
          {selected !== null && !selected.labelled
            ? "This upload has no Label column, so quality cannot be measured."
            : "Upload a labelled CSV (with a Label column) to see precision and recall."}
        </p>
      ) : (
        <div className="flex flex-col gap-2 text-sm">
          <p className="text-xs text-slate-300">
            {selected !== null
              ? "This upload, windows scored so far (a window counts as attack if any flow is)."
              : `${view.uploads} labelled upload${view.uploads === 1 ? "" : "s"} pooled, windows scored so far.`}
          </p>
          <dl className="grid grid-cols-3 gap-2 text-center">
            {(
              [
                ["Precision", view.quality.precision, "quality-precision"],
                ["Recall", view.quality.recall, "quality-recall"],
                ["F1", view.quality.f1, "quality-f1"],
              ] as const
            ).map(([label, value, testId]) => (
              <div key={label} className="rounded border border-slate-700 p-1.5">
                <dt className="text-xs text-slate-300">{label}</dt>
                <dd className="font-mono text-lg font-semibold" data-testid={testId}>
                  {formatRatio(value)}
                </dd>
              </div>
            ))}
          </dl>
          <table className="w-full text-center text-xs" data-testid="quality-confusion">
            <caption className="sr-only">Confusion counts</caption>
            <thead>
              <tr className="text-slate-300">
                <th scope="col" />
                <th scope="col">Labelled attack</th>
                <th scope="col">Labelled benign</th>
              </tr>
            </thead>
            <tbody className="font-mono">
              <tr>
                <th scope="row" className="text-left font-sans text-slate-300">
                  Flagged
                </th>
                <td>TP {formatCount(view.quality.tp)}</td>
                <td>FP {formatCount(view.quality.fp)}</td>
              </tr>
              <tr>
                <th scope="row" className="text-left font-sans text-slate-300">
                  Not flagged
                </th>
                <td>FN {formatCount(view.quality.fn)}</td>
                <td>TN {formatCount(view.quality.tn)}</td>
              </tr>
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}
