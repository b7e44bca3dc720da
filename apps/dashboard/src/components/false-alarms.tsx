/**
 * A model's false-alarm rate as the model promises it and as the detection lab measured it on
 * days the model never saw, and training's warnings about the model: shown for the active model
 * and for every registry version.
 */
import type { ModelSummary } from "@floodwatch/core/stream-contracts";
import { formatPercent } from "../lib/format.ts";

/** "promised 0.00% · lab 4.0% (3.0–6.0%)", the lab figure's source in its title. */
export function FalseAlarms({ model }: { model: ModelSummary }) {
  const { promised, measured } = model.falseAlarms;
  return (
    <span data-testid="false-alarms">
      promised {formatPercent(promised, 2)}
      {measured === null ? (
        <span className="text-slate-300"> · not measured for these settings</span>
      ) : (
        <span title={`${measured.profile} profile; ${measured.source}`}>
          {" "}
          · lab, other days {formatPercent(measured.mean)}{" "}
          <span className="text-slate-300">
            ({formatPercent(measured.low)}–{formatPercent(measured.high)})
          </span>
        </span>
      )}
    </span>
  );
}

/** Training's warnings, one line each; nothing when there are none. */
export function ModelWarnings({ model }: { model: ModelSummary }) {
  if (model.warnings.length === 0) return null;
  return (
    <ul className="mt-1 font-sans text-xs text-amber-200" data-testid="model-warnings">
      {model.warnings.map((warning) => (
        <li key={warning}>⚠ {warning}</li>
      ))}
    </ul>
  );
}
