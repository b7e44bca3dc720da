import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LiveUpload, LiveUploadRefused } from "./live-upload.ts";

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function listen(
  handler: (
    req: IncomingMessage,
    n: number,
    answer: (status: number, body: string) => void,
  ) => void,
) {
  let n = 0;
  server = createServer((req, res) =>
    handler(req, ++n, (status, body) => res.writeHead(status).end(body)),
  );
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("LiveUpload", () => {
  it("reopens the upload after ingest drops it, header first, keeping the newest lines that fit", async () => {
    const bodies: string[] = [];
    const url = await listen((req, n, answer) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (d: string) => {
        body += d;
        // The first ingest "restarts" as soon as the upload begins.
        if (n === 1) req.socket.destroy();
      });
      req.on("end", () => {
        bodies.push(body);
        answer(201, JSON.stringify({ uploadId: `u${n}` }));
      });
    });
    let failed!: () => void;
    const failure = new Promise<void>((r) => (failed = r));
    const upload = new LiveUpload({
      ingestUrl: url,
      name: "lab tap",
      header: "H",
      maxBufferBytes: 9,
      minRetryMs: 300,
      log: (message) => {
        if (message.includes("connection failed")) failed();
      },
    });
    upload.push("a1");
    await failure;
    // While ingest is away: five 3-byte lines into a 9-byte buffer, the two oldest dropped.
    for (const line of ["b1", "b2", "b3", "b4", "b5"]) upload.push(line);
    await upload.close();
    expect(bodies).toEqual(["H\nb3\nb4\nb5\n"]);
    expect(upload.stats).toMatchObject({ connections: 2, linesDropped: 2, uploadIds: ["u2"] });
  });

  it("gives up on a client error, saying what ingest answered", async () => {
    const url = await listen((req, _n, answer) => {
      req.resume();
      req.on("end", () => answer(400, '{"error":"missing required column"}'));
    });
    const upload = new LiveUpload({
      ingestUrl: url,
      name: "x",
      header: "H",
      maxBufferBytes: 1000,
      log: () => {},
    });
    upload.push("a");
    await expect(upload.close()).rejects.toThrow(LiveUploadRefused);
    await expect(
      new LiveUpload({
        ingestUrl: url,
        name: "x",
        header: "H",
        maxBufferBytes: 1000,
        log: () => {},
      })
        .close()
        .catch((e: Error) => e.message),
    ).resolves.toContain("missing required column");
  });
});
