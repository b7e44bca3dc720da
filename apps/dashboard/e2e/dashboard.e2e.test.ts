/**
 * The whole stack in a real headless Chromium: the launcher starts Redis, ingest, detectors, the
 * API and the built dashboard; the test uploads a generated SYN-flood CSV through the page and
 * waits for the alerts, the scatter and the model to show, then saves a screenshot.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateFlowCsv } from "@floodwatch/core/generator";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const CHROMIUM = "/usr/bin/chromium";
/** A first start builds the dashboard; on two shared cores that takes minutes. */
const READY_TIMEOUT_MS = 300_000;
/** Scoring 5,000 flows takes seconds; the margin is for a busy machine. */
const UI_TIMEOUT_MS = 60_000;
const FLOWS = 5_000;

/** A free TCP port on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Resolves once `child` prints a line containing `text`; rejects if it exits first. */
function waitForLine(child: ChildProcess, text: string, output: string[], timeoutMs: number) {
  return new Promise<void>((resolveReady, reject) => {
    let buffered = "";
    const timer = setTimeout(
      () =>
        reject(new Error(`no "${text}" within ${timeoutMs} ms:\n${output.slice(-40).join("\n")}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        output.push(line);
        if (line.includes(text)) {
          clearTimeout(timer);
          resolveReady();
        }
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8").trimEnd()));
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `launcher exited (${signal ?? `code ${code}`}) before "${text}":\n${output.slice(-40).join("\n")}`,
        ),
      );
    });
  });
}

/** Stops the launcher and everything it started (its process group). */
async function stopLauncher(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  // SIGTERM first: the launcher drains its children and stops its private redis-server.
  process.kill(-child.pid, "SIGTERM");
  const timer = setTimeout(() => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }, 20_000);
  await exited;
  clearTimeout(timer);
  try {
    // Whatever is left of the group (a child that ignored SIGTERM).
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // The group is empty: everything stopped cleanly.
  }
}

/** Reads a numeric data attribute of a test id. */
async function numberAttribute(page: Page, testId: string, attribute: string): Promise<number> {
  const value = await page.getByTestId(testId).getAttribute(attribute);
  return Number(value ?? Number.NaN);
}

describe("dashboard in a real browser", () => {
  let launcher: ChildProcess | undefined;
  let browser: Browser | undefined;
  let workDir = "";
  let dashboardUrl = "";
  const launcherOutput: string[] = [];

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "floodwatch-e2e-"));
    const [dashboardPort, apiPort, ingestPort, trainerPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    dashboardUrl = `http://localhost:${dashboardPort}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DASHBOARD_PORT: String(dashboardPort),
      API_PORT: String(apiPort),
      INGEST_PORT: String(ingestPort),
      TRAINER_PORT: String(trainerPort),
      DETECTORS: "2",
      FLOODWATCH_DATA_DIR: join(workDir, "data"),
      NEXT_TELEMETRY_DISABLED: "1",
    };
    // Without REDIS_URL the launcher runs a private redis-server: never the machine's own.
    delete env.REDIS_URL;
    launcher = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
      cwd: ROOT,
      env,
      // Its own process group, so the whole stack can be stopped at once.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    await waitForLine(launcher, "floodwatch is ready", launcherOutput, READY_TIMEOUT_MS);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, READY_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    await browser?.close();
    if (launcher !== undefined) await stopLauncher(launcher);
    if (workDir !== "") rmSync(workDir, { recursive: true, force: true });
  }, 60_000);

  it(
    "shows a SYN flood as alerts, scatter points in both colours and the model's threshold",
    async () => {
      if (browser === undefined) throw new Error("no browser");
      const csvPath = join(workDir, "syn-flood.csv");
      writeFileSync(
        csvPath,
        [...generateFlowCsv({ flows: FLOWS, attack: "syn", seed: 11 })].join(""),
      );

      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      page.setDefaultTimeout(UI_TIMEOUT_MS);
      const response = await page.goto(dashboardUrl);
      // Security headers: the page may talk only to its own API and ingest.
      const policy = response?.headers()["content-security-policy"] ?? "";
      expect(policy).toContain("connect-src 'self'");
      expect(policy).toContain("frame-ancestors 'none'");
      await page.locator('[data-testid="connection"][data-status="open"]').waitFor();

      await page.getByTestId("upload-input").setInputFiles(csvPath);
      const task = page.locator('[data-testid="upload-task"][data-phase="accepted"]');
      await task.waitFor();
      expect(await task.getByTestId("rows-accepted").textContent()).toBe("5,000");
      const synUploadId = await task.getAttribute("data-upload-id");
      expect(synUploadId).toMatch(/\S/);

      // Every window scored: the upload's own state says done.
      await task.locator('[data-testid="upload-state"]', { hasText: "done" }).waitFor();

      await page.waitForFunction(() => {
        const value = document
          .querySelector('[data-testid="counter-anomalies"]')
          ?.getAttribute("data-value");
        return Number(value) > 0;
      });
      expect(await numberAttribute(page, "counter-anomalies", "data-value")).toBeGreaterThan(0);

      await page.waitForFunction(() => {
        const scatter = document.querySelector('[data-testid="pca-scatter"]');
        return (
          Number(scatter?.getAttribute("data-normal-points")) > 0 &&
          Number(scatter?.getAttribute("data-anomaly-points")) > 0
        );
      });
      const normalPoints = await numberAttribute(page, "pca-scatter", "data-normal-points");
      const anomalyPoints = await numberAttribute(page, "pca-scatter", "data-anomaly-points");
      // 5,000 flows make 100 windows of 50; the attack phase spans 30 % of them.
      expect(normalPoints + anomalyPoints).toBe(FLOWS / 50);
      expect(anomalyPoints).toBeGreaterThan(0);
      expect(normalPoints).toBeGreaterThan(anomalyPoints);

      expect(await numberAttribute(page, "alert-log", "data-lines")).toBe(FLOWS / 50);
      expect(await page.getByTestId("alert-line").count()).toBeGreaterThan(0);
      await page.getByTestId("anomalies-only").check();
      expect(await numberAttribute(page, "alert-log", "data-lines")).toBe(anomalyPoints);
      const shownLines = page.getByTestId("alert-line");
      expect(await shownLines.count()).toBeGreaterThan(0);
      expect(await page.locator('[data-testid="alert-line"][data-anomaly="false"]').count()).toBe(
        0,
      );
      await page.getByTestId("anomalies-only").uncheck();

      const threshold = page.getByTestId("model-threshold");
      expect(Number(await threshold.getAttribute("data-value"))).toBeLessThan(0.5);
      expect(await threshold.textContent()).toMatch(/-?\d\.\d{4}/);
      expect(await page.getByTestId("counter-threshold").textContent()).toMatch(/-?\d\.\d{4}/);
      expect(await numberAttribute(page, "score-timeline", "data-points")).toBe(FLOWS / 50);

      // A file name and labels from a CSV are text, never markup.
      const hostileCsv = [...generateFlowCsv({ flows: 200, attack: "syn", seed: 3 })]
        .join("")
        .replaceAll(",DDoS\n", ",<script>window.__floodwatchXss=1</script>\n");
      await page.getByTestId("upload-input").setInputFiles({
        name: '<img src=x onerror="window.__floodwatchXss=2">.csv',
        mimeType: "text/csv",
        buffer: Buffer.from(hostileCsv),
      });
      // The newest task is listed first; wait for the server's answer to it, whichever it is.
      await page
        .getByTestId("upload-task")
        .first()
        .locator('[data-testid="upload-answer"], [data-testid="upload-refusal"]')
        .waitFor();
      expect(
        await page.evaluate(() => (window as { __floodwatchXss?: number }).__floodwatchXss),
      ).toBeUndefined();
      expect(await page.locator("img").count()).toBe(0);

      // Show the SYN flood's upload alone for the screenshot: the log, charts and counters follow.
      await page.getByTestId("upload-selector").selectOption(synUploadId ?? "");
      await page.waitForFunction(
        (expected) =>
          Number(
            document.querySelector('[data-testid="score-timeline"]')?.getAttribute("data-points"),
          ) === expected,
        FLOWS / 50,
      );

      // The log followed the stream: it is at the bottom, with the newest line in the DOM.
      const log = page.getByTestId("alert-log");
      expect(await log.getAttribute("data-following")).toBe("true");
      const scroll = await log.evaluate((el) => ({
        fromBottom: el.scrollHeight - el.clientHeight - el.scrollTop,
        renderedTo: Number(el.getAttribute("data-rendered")?.split("-")[1]),
        lines: Number(el.getAttribute("data-lines")),
      }));
      expect(scroll.fromBottom).toBeLessThanOrEqual(4);
      expect(scroll.renderedTo).toBe(scroll.lines);

      mkdirSync(join(ROOT, "test-results"), { recursive: true });
      await page.screenshot({ path: join(ROOT, "test-results/dashboard.png"), fullPage: true });

      // Who and why, in the log and in a window's details: the flood's victim and its top feature.
      await page.getByTestId("anomalies-only").check();
      const anomalous = page.locator('[data-testid="alert-line"][data-anomaly="true"]').first();
      expect(await anomalous.getByTestId("alert-victim").textContent()).toMatch(
        /^192\.168\.10\.50:\d+\/TCP$/,
      );
      const why = (await anomalous.getByTestId("alert-why").textContent()) ?? "";
      expect(why).toMatch(/ (mean|std|min|max) .*typical/);
      await anomalous.click();
      const windowDetails = page.getByTestId("window-details");
      await windowDetails.waitFor();
      expect(await windowDetails.getByTestId("window-details-victims").textContent()).toContain(
        "192.168.10.50",
      );
      // The details name the same top feature as the log line, with its bars.
      expect(await windowDetails.getByTestId("window-details-top-feature").textContent()).toBe(why);
      expect(await windowDetails.locator('[data-testid="feature-bars"] li').count()).toBe(5);
      expect(await windowDetails.getByTestId("window-details-time").textContent()).toMatch(
        /Traffic \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/,
      );
      expect(await windowDetails.getByTestId("window-details-score").textContent()).toMatch(
        /ANOMALY · score -?\d\.\d{4} < threshold/,
      );
      await page.screenshot({
        path: join(ROOT, "test-results/dashboard-window-details.png"),
        fullPage: false,
      });
      await page.keyboard.press("Escape");
      await windowDetails.waitFor({ state: "detached" });
      await page.getByTestId("anomalies-only").uncheck();

      // The flood is one incident of its upload; opening it narrows the log to its windows.
      const incident = page.locator(
        `[data-testid="incident-row"][data-incident-id^="${synUploadId}-"][data-state="closed"]`,
      );
      await incident.first().waitFor();
      expect(await page.getByTestId("open-incidents").getAttribute("data-value")).toMatch(/^\d+$/);
      // The flood itself: the incident with the most windows.
      const incidentId = await page.evaluate((uploadId) => {
        const rows = [
          ...document.querySelectorAll(
            `[data-testid="incident-row"][data-incident-id^="${uploadId}-"]`,
          ),
        ];
        rows.sort(
          (a, b) => Number(b.getAttribute("data-windows")) - Number(a.getAttribute("data-windows")),
        );
        return rows[0]?.getAttribute("data-incident-id") ?? null;
      }, synUploadId);
      await page.locator(`[data-testid="incident-row"][data-incident-id="${incidentId}"]`).click();
      const details = page.getByTestId("incident-details");
      await details.waitFor();
      expect(await details.getAttribute("data-incident-id")).toBe(incidentId);
      const range = /Windows#(\d+)–#(\d+): (\d+) anomalous of (\d+)/.exec(
        (await details.textContent()) ?? "",
      );
      expect(range).not.toBeNull();
      const incidentWindows = Number(range![4]);
      expect(incidentWindows).toBeGreaterThan(10);
      await page.waitForFunction(
        (expected) =>
          Number(
            document.querySelector('[data-testid="alert-log"]')?.getAttribute("data-lines"),
          ) === expected,
        incidentWindows,
      );
      expect(await numberAttribute(page, "score-timeline", "data-points")).toBe(incidentWindows);
      await page.screenshot({ path: join(ROOT, "test-results/incidents.png"), fullPage: true });
      expect(pageErrors).toEqual([]);
    },
    UI_TIMEOUT_MS * 4,
  );
});
