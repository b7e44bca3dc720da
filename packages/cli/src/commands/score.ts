import { scoreFlowCsv, type DetectorScores, type ScoredWindowBatch } from "@floodwatch/core";
import { checkInputs, openFlowInput, withInputName } from "../flow-input.ts";
import { loadModelFile } from "../model-loading.ts";
import { type CommandSpec, choiceOption, stringOption } from "../options.ts";
import { LineWriter } from "../output.ts";

const FORMATS = ["ndjson", "csv"] as const;

export const scoreCommand: CommandSpec = {
  name: "score",
  usage:
    "score --model MODEL [--format ndjson|csv] [--cic-compat] FILE... (flow CSV or pcap/pcapng)",
  options: {
    model: { type: "string" },
    format: { type: "string" },
    "cic-compat": { type: "boolean" },
  },
  async run({ values, positionals }) {
    const model = await loadModelFile(stringOption(values, "model", { required: true }));
    const format = choiceOption(values, "format", FORMATS, "ndjson");
    await checkInputs(positionals);
    const out = new LineWriter();
    const withFile = positionals.length > 1;
    let headerWritten = false;

    for (const path of positionals) {
      const input = openFlowInput(path, undefined, { cicCompat: values["cic-compat"] === true });
      let labelled = false;
      const write = async ({ windows, scores }: ScoredWindowBatch) => {
        if (format === "csv" && !headerWritten) {
          const columns = ["window", "firstLine", "lastLine", "score", "anomaly", "pc1", "pc2"];
          if (labelled) columns.push("attackFlows");
          if (withFile) columns.unshift("file");
          await out.line(columns.join(","));
          headerWritten = true;
        }
        for (let w = 0; w < windows.count; w++) {
          const record = {
            ...(withFile ? { file: input.name } : {}),
            window: windows.index[w]!,
            firstLine: windows.firstLine[w]!,
            lastLine: windows.lastLine[w]!,
            score: scores.decision[w]!,
            anomaly: scores.anomaly[w] === 1,
            pc1: scores.pc1[w]!,
            pc2: scores.pc2[w]!,
            ...(labelled ? { attackFlows: windows.attackFlows[w]! } : {}),
          };
          await out.line(
            format === "ndjson"
              ? JSON.stringify({ ...record, ...detectorFields(scores.detectors, w) })
              : Object.values(record).join(","),
          );
        }
      };
      const summary = await withInputName(input.name, () =>
        scoreFlowCsv(input.chunks, model, async (scored, info) => {
          labelled = info.labelled;
          await write(scored);
        }),
      );
      await out.flush();
      reportSummary(input.name, summary);
    }
    await out.flush();
  },
};

/** Tells on stderr what was read, rejected and left over, so stdout stays machine-readable. */
export function reportSummary(
  name: string,
  summary: Awaited<ReturnType<typeof scoreFlowCsv>>,
): void {
  const { stats } = summary;
  for (const r of stats.rejected.slice(0, 10)) {
    process.stderr.write(
      `${name}: line ${r.line}${r.column ? `, column ${r.column}` : ""}: ${r.reason}\n`,
    );
  }
  process.stderr.write(
    `${name}: ${stats.rowsAccepted} rows accepted, ${stats.rowsRejected} rejected, ` +
      `${summary.windowsScored} windows scored, ${summary.anomalies} anomalous, ` +
      `${summary.tailFlows} tail flows, ${summary.valuesReplaced} non-finite values replaced\n`,
  );
}

/**
 * Each detector's own score behind a fused one (ndjson only: the CSV columns stay fixed), so a
 * reader can see which detector raised the alarm. Nothing for forest-only models.
 */
function detectorFields(detectors: DetectorScores | undefined, w: number) {
  if (!detectors) return {};
  return {
    detectors: {
      forest: detectors.forest[w]!,
      ...(detectors.mahalanobis ? { mahalanobis: detectors.mahalanobis[w]! } : {}),
      ...(detectors.ecod ? { ecod: detectors.ecod[w]! } : {}),
      ...(detectors.guardExcess ? { guardExcess: detectors.guardExcess[w]! } : {}),
    },
  };
}
