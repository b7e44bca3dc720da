/**
 * The CSV → training loop, shared by the CLI's `train` and the trainer service: one flow CSV read
 * into a {@link TrainingFlows} as one sequence (windows never span two inputs).
 */
import { FlowCsvReader } from "./flow-csv-reader.ts";
import type { TrainingFlows } from "./model-training.ts";

/**
 * Reads `chunks` (a file, a stored upload) with the model's `features` into `flows` and ends the
 * sequence. `onChunk` sees each chunk after its rows were taken: the caller hashes the input and
 * reports progress there. Throws the reader's `FlowCsvError` for an unusable input. Returns the
 * reader, whose `stats` and `labelled` say what was read.
 */
export async function readTrainingSequence(
  chunks: AsyncIterable<string | Uint8Array>,
  flows: TrainingFlows,
  features: readonly string[],
  onChunk?: (chunk: string | Uint8Array, reader: FlowCsvReader) => void | Promise<void>,
): Promise<FlowCsvReader> {
  const reader = new FlowCsvReader({ features: [...features] });
  for await (const chunk of chunks) {
    for (const batch of reader.push(chunk)) flows.add(batch);
    await onChunk?.(chunk, reader);
  }
  for (const batch of reader.end()) flows.add(batch);
  flows.endSequence();
  return reader;
}
