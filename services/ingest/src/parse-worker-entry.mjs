// Entry of a parse worker thread. A worker does not inherit the main thread's tsx loader (not
// under `node --import tsx`, where `--import` does not reach workers on Node 20, nor under
// vitest), so it registers tsx itself before loading the TypeScript worker.
import { tsImport } from "tsx/esm/api";

await tsImport("./parse-worker.ts", import.meta.url);
