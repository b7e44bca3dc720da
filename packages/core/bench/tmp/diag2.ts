import { FlowScoringSession, DEFAULT_FEATURES, windowFeatureNames } from "../../src/index.ts";
import { loadLabData, trainLabModel } from "../detection-lab.ts";
const data = loadLabData();
const model = trainLabModel(data, {}, 1);
const g = model.detection!.guard!;
const names = windowFeatureNames(DEFAULT_FEATURES);
for (const run of data.benignRuns) {
  const n = Math.floor(run.count / 50) * 50;
  const s = new FlowScoringSession(model);
  const { scores, windows } = s.push({ count: n, featureCount: 25, values: run.values.slice(0, n * 25), lines: new Float64Array(n), attack: new Uint8Array(n) });
  for (let w = 0; w < scores.count; w++) {
    if (!scores.anomaly[w]) continue;
    const out = [];
    for (let j = 0; j < 100; j++) {
      const v = windows.features[w * 100 + j]!;
      const e = v > g.high[j]! ? (v - g.high[j]!) / g.span[j]! : v < g.low[j]! ? (g.low[j]! - v) / g.span[j]! : 0;
      if (e > 0.05) out.push(`${names[j]} ${v.toFixed(2)} [${g.low[j]!.toFixed(2)},${g.high[j]!.toFixed(2)}] e=${e.toFixed(2)}`);
    }
    console.log(w, out.join("; "));
  }
}
