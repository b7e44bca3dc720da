/** Version of the floodwatch tools, recorded in every model file they write. */
export const TOOL_VERSION = "0.1.0";
