/**
 * `floodwatch` — train, score, evaluate and generate CICFlowMeter flow data from the shell.
 */
import { runCli } from "./cli.ts";

process.exitCode = await runCli(process.argv.slice(2));
