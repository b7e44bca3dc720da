import { LABEL_RULES, WindowEvaluation, scoreFlowCsv } from "@floodwatch/core";
import { UsageError } from "../cli-error.ts";
import { checkInputs, openFlowInput, withInputName } from "../flow-input.ts";
import { loadModelFile } from "../model-loading.ts";
import { type CommandSpec, choiceOption, stringOption } from "../options.ts";
import { reportSummary } from "./score.ts";

export const evalCommand: CommandSpec = {
  name: "eval",
  usage:
    "eval --model MODEL [--label-rule any|majority] [--cic-compat] [--capture-label LABEL] FILE... (flow CSV or pcap/pcapng)",
  options: {
    model: { type: "string" },
    "label-rule": { type: "string" },
    "cic-compat": { type: "boolean" },
    // A capture has no labels: this one goes on every flow metered from a capture input.
    "capture-label": { type: "string" },
  },
  async run({ values, positionals }) {
    const model = await loadModelFile(stringOption(values, "model", { required: true }));
    const rule = choiceOption(values, "label-rule", LABEL_RULES, "any");
    await checkInputs(positionals);
    const evaluation = new WindowEvaluation(model.window.size, rule);
    let flows = 0;
    let rowsRejected = 0;
    let tailFlows = 0;
    let valuesReplaced = 0;
    const started = performance.now();
    for (const path of positionals) {
      const captureLabel = stringOption(values, "capture-label");
      const input = openFlowInput(path, undefined, {
        cicCompat: values["cic-compat"] === true,
        ...(captureLabel !== undefined ? { label: captureLabel } : {}),
      });
      const summary = await withInputName(input.name, () =>
        scoreFlowCsv(input.chunks, model, ({ windows, scores }) => {
          evaluation.add(scores.decision, scores.anomaly, windows.attackFlows, windows.count);
        }),
      );
      if (!summary.labelled) {
        throw new UsageError(
          `${input.name} has no Label column: eval needs labelled flows (use score, or --capture-label for a capture)`,
        );
      }
      reportSummary(input.name, summary);
      flows += summary.stats.rowsAccepted;
      rowsRejected += summary.stats.rowsRejected;
      tailFlows += summary.tailFlows;
      valuesReplaced += summary.valuesReplaced;
    }
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      JSON.stringify({
        model: model.version,
        labelRule: rule,
        ...evaluation.result(),
        flows,
        flowsPerSecond: Math.round(flows / seconds),
        rowsRejected,
        tailFlows,
        valuesReplaced,
      }) + "\n",
    );
  },
};
