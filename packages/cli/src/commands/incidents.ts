import { basename } from "node:path";
import {
  DEFAULT_INCIDENT_CLOSE_AFTER_WINDOWS,
  explainerFor,
  incidentTrackerOptions,
  scoreFlowCsv,
  trackIncidents,
  type IncidentWindow,
  type ScoredWindowBatch,
  windowFindings,
} from "@floodwatch/core";
import { checkInputs, openFlowInput, withInputName } from "../flow-input.ts";
import { loadModelFile } from "../model-loading.ts";
import { type CommandSpec, intOption, stringOption } from "../options.ts";
import { LineWriter } from "../output.ts";
import { reportSummary } from "./score.ts";

/**
 * The tracker's view of a scored batch's windows, with the same who/when/why fields `score`
 * prints (anomalous windows explained, as the detector does by default).
 */
function incidentWindows(
  scored: ScoredWindowBatch,
  model: Parameters<typeof explainerFor>[0],
): IncidentWindow[] {
  const { windows, scores } = scored;
  const explainer = explainerFor(model);
  const out: IncidentWindow[] = [];
  for (let w = 0; w < windows.count; w++) {
    const { explanationFeatures: _rollup, ...findings } = windowFindings(
      scored,
      w,
      "anomalies",
      explainer,
    );
    out.push({
      window: windows.index[w]!,
      score: scores.decision[w]!,
      anomaly: scores.anomaly[w] === 1,
      modelVersion: model.version,
      ...findings,
    });
  }
  return out;
}

/**
 * `floodwatch incidents`: scores each file as `score` does and prints its incidents, one JSON
 * object per line, with the same fields (and the same tracker) as the live service. Each file is
 * its own source; its file name stands in `uploadId`.
 */
export const incidentsCommand: CommandSpec = {
  name: "incidents",
  usage: `incidents --model MODEL [--close-after N (default ${DEFAULT_INCIDENT_CLOSE_AFTER_WINDOWS})] FILE...`,
  options: { model: { type: "string" }, "close-after": { type: "string" } },
  async run({ values, positionals }) {
    // Options are checked before the model is read, so a usage error is never hidden behind it.
    const modelPath = stringOption(values, "model", { required: true });
    const closeAfter = intOption(values, "close-after", DEFAULT_INCIDENT_CLOSE_AFTER_WINDOWS, {
      min: 1,
    });
    const model = await loadModelFile(modelPath);
    await checkInputs(positionals);
    const out = new LineWriter();
    const options = incidentTrackerOptions(model.window, closeAfter);
    for (const path of positionals) {
      const input = openFlowInput(path);
      const windows: IncidentWindow[] = [];
      const summary = await withInputName(input.name, () =>
        scoreFlowCsv(input.chunks, model, (scored) => {
          windows.push(...incidentWindows(scored, model));
          return Promise.resolve();
        }),
      );
      for (const incident of trackIncidents(basename(input.name), windows, options)) {
        await out.line(JSON.stringify(incident));
      }
      await out.flush();
      reportSummary(input.name, summary);
    }
    await out.flush();
  },
};
