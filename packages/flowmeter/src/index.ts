/**
 * @floodwatch/flowmeter: packets to CICFlowMeter flows, in TypeScript, with no I/O. Push capture
 * bytes in (a file, an upload, tcpdump's stdout); get flow records or CSV text out.
 */
export * from "./capture-reader.ts";
export * from "./packet-decoder.ts";
export * from "./flow-meter.ts";
export * from "./flow-record.ts";
export * from "./capture-meter.ts";
