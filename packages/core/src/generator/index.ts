/** `@floodwatch/core/generator`: synthetic CIC-IDS2017 flows for tests, demos and benchmarks. */
export {
  ATTACK_KINDS,
  GENERATED_LABELS,
  generateFlowCsv,
  type AttackKind,
  type FlowGeneratorOptions,
} from "./flow-generator.ts";
