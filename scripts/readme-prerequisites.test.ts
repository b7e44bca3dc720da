/** The README's prerequisites name the pnpm version package.json pins, so they cannot drift. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

describe("README prerequisites", () => {
  it("install exactly the pnpm of packageManager, and the Node of engines", () => {
    const manifest = JSON.parse(read("package.json")) as {
      packageManager: string;
      engines: { node: string };
    };
    const readme = read("README.md");
    expect(readme).toContain(`\`npm install -g ${manifest.packageManager}\``);
    expect(manifest.engines.node).toBe(">=20.19");
    expect(readme).toContain("Prerequisites: Node 20.19+");
  });
});
