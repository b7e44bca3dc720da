import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { ATTACK_KINDS, generateFlowCsv } from "@floodwatch/core/generator";
import { UsageError } from "../cli-error.ts";
import { type CommandSpec, choiceOption, intOption, stringOption } from "../options.ts";

export const generateCommand: CommandSpec = {
  name: "generate",
  usage: "generate --out FILE --flows N [--attack none|syn|udp|http|slowloris] [--seed S]",
  options: {
    out: { type: "string" },
    flows: { type: "string" },
    attack: { type: "string" },
    seed: { type: "string" },
  },
  async run({ values, positionals }) {
    const out = stringOption(values, "out", { required: true });
    if (values.flows === undefined) throw new UsageError("--flows is required");
    const flows = intOption(values, "flows", 0, { min: 1 });
    const attack = choiceOption(values, "attack", ATTACK_KINDS, "none");
    const seed = intOption(values, "seed", 1, {});
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const stream = out === "-" ? process.stdout : createWriteStream(out);
    for (const chunk of generateFlowCsv({ flows, attack, seed })) {
      if (!stream.write(chunk)) await once(stream, "drain");
    }
    if (stream !== process.stdout) {
      stream.end();
      await once(stream, "finish");
    }
  },
};
