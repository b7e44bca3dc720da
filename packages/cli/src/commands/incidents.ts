import { basename } from "node:path";
import {
  DEFAULT_INCIDENT_CLOSE_AFTER_WINDOWS,
  incidentTrackerOptions,
  scoreFlowCsv,
  trackIncidents,
  type IncidentWindow,
  type ScoredWindowBatch,
} from "@floodwatch/core";
import { checkInputs, openFlowInput, withInputName } from "../flow-input.ts";
import { loadModelFile } from "../model-loading.ts";
import { type CommandSpec, intOption, stringOption } from "../options.ts";
import { LineWriter } from "../output.ts";
import { reportSummary } from "./score.ts";

/**
 * The tracker's view of a scored batch's windows. The per-window victims, sources, ports, times
 * and explanations join here when scoring produces them; until then incidents carry empty lists.
 */
function incidentWindows(
  { windows, scores }: ScoredWindowBatch,
  modelVersion: string,
): IncidentWindow[] {
  const out: IncidentWindow[] = [];
  for (let w = 0; w < windows.count; w++) {
    out.push({
      window: windows.index[w]!,
      score: scores.decision[w]!,
      anomaly: scores.anomaly[w] === 1,
      modelVersion,
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
          windows.push(...incidentWindows(scored, model.version));
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
