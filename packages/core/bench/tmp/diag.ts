import { FlowScoringSession, DEFAULT_FEATURES } from "../../src/index.ts";
import { loadLabData, trainLabModel } from "../detection-lab.ts";
const data = loadLabData();
const cfg = JSON.parse(process.argv[2] ?? "{}");
const model = trainLabModel(data, cfg, 1);
const f = model.detection!.fusion!;
for (const run of data.benignRuns) {
  const n = Math.floor(run.count / 50) * 50;
  const s = new FlowScoringSession(model);
  const { scores } = s.push({ count: n, featureCount: 25, values: run.values.slice(0, n * 25), lines: new Float64Array(n), attack: new Uint8Array(n) });
  for (let w = 0; w < scores.count; w++) {
    const d = scores.detectors!;
    const zf = (d.forest[w]! - f.forestMedian) / f.forestSpread;
    const ze = d.ecod ? (f.ecodMedian - d.ecod[w]!) / f.ecodSpread : NaN;
    const zm = d.mahalanobis ? (f.mahalanobisMedian - d.mahalanobis[w]!) / f.mahalanobisSpread : NaN;
    console.log(scores.anomaly[w], "zm", zm.toFixed(2), "zf", zf.toFixed(2), "ze", ze.toFixed(2), "g", d.guardExcess?.[w]?.toFixed(2), "zthr", f.zThreshold.toFixed(2));
  }
}
