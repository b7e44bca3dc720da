import { DEFAULT_FEATURES } from "./flow-features.ts";
import { redisKeys } from "./redis-keys.ts";
import { describe, expect, it } from "vitest";
import {
  decodeModelMeta,
  describeSettingsError,
  encodeModelMeta,
  trainingSettingsSchema,
  type ModelMeta,
} from "./training-contract.ts";

describe("training settings", () => {
  it("fill in the CLI's defaults, the stride following the window", () => {
    // No training stride: training picks it as `floodwatch train` does (the window budget).
    expect(trainingSettingsSchema.parse({})).toEqual({
      window: 50,
      stride: 50,
      trees: 100,
      maxSamples: 256,
      quantile: 0.01,
      seed: 42,
      features: [...DEFAULT_FEATURES],
    });
    const small = trainingSettingsSchema.parse({ window: "20", stride: "10" });
    expect(small).toMatchObject({ window: 20, stride: 10 });
    expect("trainStride" in small).toBe(false);
    expect(trainingSettingsSchema.parse({ trainStride: "5" }).trainStride).toBe(5);
  });

  it("read a comma list of features and parse their own output again unchanged", () => {
    const settings = trainingSettingsSchema.parse({
      features: " Flow Duration, SYN Flag Count ,,",
      seed: "-3",
    });
    expect(settings.features).toEqual(["Flow Duration", "SYN Flag Count"]);
    expect(trainingSettingsSchema.parse(settings)).toEqual(settings);
  });

  it("name the field of the first problem", () => {
    const error = trainingSettingsSchema.safeParse({ trainStride: 60 }).error!;
    expect(describeSettingsError(error)).toEqual({
      field: "trainStride",
      message: "invalid training setting trainStride: must be at most the window (50), got 60",
    });
    const unknown = trainingSettingsSchema.safeParse({ tree: 1, sed: 2 }).error!;
    expect(describeSettingsError(unknown).message).toMatch(/^unknown training settings tree, sed /);
  });
});

describe("training keys and model metadata", () => {
  it("derive key names from the deployment prefix", () => {
    const keys = redisKeys("fw-test");
    expect(keys.trainingInput("job-1")).toBe("fw-test:training-input:job-1");
    expect(keys.modelMeta("0123456789ab")).toBe("fw-test:model-meta:0123456789ab");
  });

  it("survive the trip through hash fields", () => {
    const meta: ModelMeta = {
      origin: "trained",
      jobId: "42",
      name: "monday.csv",
      rowsRead: 3109,
      labelled: false,
      flowsExcluded: 0,
      settings: trainingSettingsSchema.parse({ trees: 10 }),
      evaluation: null,
    };
    const fields = encodeModelMeta(meta);
    expect(fields).toMatchObject({
      origin: "trained",
      jobId: "42",
      rowsRead: "3109",
      labelled: "false",
    });
    expect(decodeModelMeta(fields)).toEqual(meta);
    expect(decodeModelMeta({})).toBeNull();
    expect(decodeModelMeta({ origin: "trained", rowsRead: "{not json" })).toBeNull();
  });
});
