/** The active model: what it looks at and where its threshold comes from. */
import type { ModelSummary } from "@floodwatch/core/stream-contracts";
import { formatCount, formatPercent, formatScore, formatUtcDateTime } from "../lib/format.ts";
import { FalseAlarms, ModelWarnings } from "./false-alarms.tsx";
import { Panel } from "./ui.tsx";

/** The model panel. */
export function ModelPanel({ model }: { model: ModelSummary | null }) {
  return (
    <Panel id="model" title="Active model" testId="model-panel">
      {model === null ? (
        <p className="text-sm text-slate-300">No active model reported yet.</p>
      ) : (
        <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
          <dt className="text-slate-300">Version</dt>
          <dd className="font-mono break-all" data-testid="model-version">
            {model.version}
          </dd>
          <dt className="text-slate-300">Threshold</dt>
          <dd data-testid="model-threshold" data-value={model.threshold}>
            <span className="font-mono font-semibold">{formatScore(model.threshold)}</span>
            <span className="text-slate-300">
              {" "}
              · {formatPercent(model.quantile, 1)} quantile of benign validation scores
            </span>
          </dd>
          <dt className="text-slate-300">Validation FPR</dt>
          <dd data-testid="model-fpr">{formatPercent(model.validationFpr, 2)}</dd>
          <dt className="text-slate-300">False alarms</dt>
          <dd>
            <FalseAlarms model={model} />
          </dd>
          <dt className="text-slate-300">Window</dt>
          <dd>
            {model.window} flows, stride {model.stride}
          </dd>
          <dt className="text-slate-300">Trained</dt>
          <dd>
            {formatUtcDateTime(model.trainedAt)} on {formatCount(model.trainingFlows)} flows,{" "}
            {formatCount(model.trainingWindows)} windows
            <ModelWarnings model={model} />
          </dd>
          <dt className="text-slate-300">PCA</dt>
          <dd>
            PC1 {formatPercent(model.explainedVariance[0])}, PC2{" "}
            {formatPercent(model.explainedVariance[1])} of variance
          </dd>
          <dt className="text-slate-300">Features</dt>
          <dd>
            <details>
              <summary className="cursor-pointer">
                {model.features.length} features × mean, std, min, max
              </summary>
              <ul
                className="mt-1 columns-1 text-xs text-slate-200 sm:columns-2"
                data-testid="model-features"
              >
                {model.features.map((feature) => (
                  <li key={feature}>{feature}</li>
                ))}
              </ul>
            </details>
          </dd>
        </dl>
      )}
    </Panel>
  );
}
