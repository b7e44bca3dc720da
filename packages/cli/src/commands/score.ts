import {
  EXPLAIN_MODES,
  explainerFor,
  scoreFlowCsv,
  windowFindings,
  zoneOffset,
  type DetectorScores,
  type ScoredWindowBatch,
} from "@floodwatch/core";
import { UsageError } from "../cli-error.ts";
import { checkInputs, openFlowInput, withInputName } from "../flow-input.ts";
import { loadModelFile } from "../model-loading.ts";
import { type CommandSpec, choiceOption, stringOption } from "../options.ts";
import { LineWriter } from "../output.ts";

const FORMATS = ["ndjson", "csv"] as const;

export const scoreCommand: CommandSpec = {
  name: "score",
  usage:
    "score --model MODEL [--format ndjson|csv] [--explain anomalies|all|none] " +
    "[--timestamp-zone UTC|±hh:mm|IANA] [--cic-compat] FILE... (flow CSV or pcap/pcapng)",
  options: {
    model: { type: "string" },
    format: { type: "string" },
    explain: { type: "string" },
    "timestamp-zone": { type: "string" },
    "cic-compat": { type: "boolean" },
  },
  async run({ values, positionals }) {
    const model = await loadModelFile(stringOption(values, "model", { required: true }));
    const format = choiceOption(values, "format", FORMATS, "ndjson");
    // Anomalous windows by default: explaining costs about a second scoring of the window.
    const explain = choiceOption(values, "explain", EXPLAIN_MODES, "anomalies");
    const timestampZone = stringOption(values, "timestamp-zone");
    try {
      zoneOffset(timestampZone);
    } catch (error) {
      throw new UsageError(`--timestamp-zone: ${(error as Error).message}`);
    }
    const explainer = explain === "none" ? null : explainerFor(model);
    await checkInputs(positionals);
    const out = new LineWriter();
    const withFile = positionals.length > 1;
    let headerWritten = false;

    for (const path of positionals) {
      const input = openFlowInput(path, undefined, { cicCompat: values["cic-compat"] === true });
      let labelled = false;
      const write = async (scored: ScoredWindowBatch) => {
        const { windows, scores } = scored;
        if (format === "csv" && !headerWritten) {
          const columns = ["window", "firstLine", "lastLine", "score", "anomaly", "pc1", "pc2"];
          if (labelled) columns.push("attackFlows");
          columns.push(...CSV_FINDINGS);
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
          const findings = windowFindings(scored, w, explain, explainer);
          await out.line(
            format === "ndjson"
              ? JSON.stringify({ ...record, ...detectorFields(scores.detectors, w), ...findings })
              : [...Object.values(record), ...csvFindings(findings)].join(","),
          );
        }
      };
      const summary = await withInputName(input.name, () =>
        scoreFlowCsv(
          input.chunks,
          model,
          async (scored, info) => {
            labelled = info.labelled;
            await write(scored);
          },
          timestampZone === undefined ? {} : { timestampZone },
        ),
      );
      await out.flush();
      reportSummary(input.name, summary);
    }
    await out.flush();
  },
};

/** The findings as flat CSV columns: the top entry of each list (the NDJSON has them all). */
const CSV_FINDINGS = [
  "start",
  "end",
  "victim",
  "victimFlows",
  "distinctSources",
  "port",
  "protocol",
  "topFeature",
  "topStatistic",
  "topWeight",
];

function csvFindings(f: ReturnType<typeof windowFindings>): (string | number)[] {
  const victim = f.victims?.[0];
  const port = f.ports?.[0];
  const top = f.explanation?.[0];
  // Feature names hold no commas; quote them anyway, as a CSV reader expects of text.
  const text = (value: string | undefined) => (value === undefined ? "" : JSON.stringify(value));
  return [
    f.start ?? "",
    f.end ?? "",
    victim?.ip ?? "",
    victim?.flows ?? "",
    f.sources?.distinct ?? "",
    port?.port ?? "",
    port?.protocol ?? "",
    text(top?.feature),
    top?.statistic ?? "",
    top?.weight ?? "",
  ];
}

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
      `${summary.tailFlows} tail flows, ${summary.valuesReplaced} non-finite values replaced` +
      (stats.timestampsUnparsed > 0
        ? `, ${stats.timestampsUnparsed} timestamps unparsed (their windows have no times)`
        : "") +
      "\n",
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
