import { describe, expect, it } from "vitest";
import {
  MultipartError,
  multipartBoundary,
  readMultipart,
  type MultipartEvent,
} from "./multipart.ts";

const BOUNDARY = "----floodwatchBoundary7MA4YWxkTrZu0gW";

/** A body as FormData would send it. */
function form(parts: { name: string; filename?: string; type?: string; body: string }[]): string {
  return (
    "preamble to ignore\r\n" +
    parts
      .map(
        (p) =>
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"` +
          (p.filename === undefined ? "" : `; filename="${p.filename}"`) +
          "\r\n" +
          (p.type === undefined ? "" : `Content-Type: ${p.type}\r\n`) +
          `\r\n${p.body}\r\n`,
      )
      .join("") +
    `--${BOUNDARY}--\r\nepilogue`
  );
}

/** Parts as {name, filename, body} after reading `chunks`. */
async function collect(chunks: (string | Buffer)[], boundary = BOUNDARY) {
  const parts: { name: string; filename?: string; contentType?: string; body: string }[] = [];
  let current: Buffer[] = [];
  const events: MultipartEvent["type"][] = [];
  for await (const event of readMultipart(chunks, boundary)) {
    events.push(event.type);
    if (event.type === "part") {
      const { type: _type, ...head } = event;
      parts.push({ ...head, body: "" });
      current = [];
    } else if (event.type === "data") current.push(event.chunk);
    else parts.at(-1)!.body = Buffer.concat(current).toString("utf8");
  }
  return { parts, events };
}

describe("multipartBoundary", () => {
  it("reads plain and quoted boundaries and refuses other types", () => {
    expect(multipartBoundary(`multipart/form-data; boundary=${BOUNDARY}`)).toBe(BOUNDARY);
    expect(multipartBoundary('Multipart/Form-Data; charset=utf-8; boundary="a b;c"')).toBe("a b;c");
    expect(multipartBoundary("multipart/form-data")).toBeNull();
    expect(multipartBoundary("text/csv")).toBeNull();
    expect(multipartBoundary(`multipart/form-data; boundary=${"x".repeat(71)}`)).toBeNull();
  });
});

describe("readMultipart", () => {
  const csv = "Flow Duration,Label\r\n1,BENIGN\r\n--not-the-boundary\r\n2,BENIGN\r\n";
  const body = form([
    { name: "trees", body: "25" },
    { name: "file", filename: "day one.csv", type: "text/csv", body: csv },
    { name: "seed", body: "7" },
  ]);
  const expected = [
    { name: "trees", body: "25" },
    { name: "file", filename: "day one.csv", contentType: "text/csv", body: csv },
    { name: "seed", body: "7" },
  ];

  it("reads fields and a file from one chunk", async () => {
    const { parts, events } = await collect([body]);
    expect(parts).toEqual(expected);
    expect(events.filter((e) => e === "part")).toHaveLength(3);
    expect(events.filter((e) => e === "end")).toHaveLength(3);
  });

  it("reads the same whatever the chunk boundaries", async () => {
    const bytes = Buffer.from(body);
    for (let cut = 1; cut < bytes.length; cut++) {
      const { parts } = await collect([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(parts, `cut at ${cut}`).toEqual(expected);
    }
    const { parts } = await collect([...bytes].map((b) => Buffer.from([b])));
    expect(parts).toEqual(expected);
  });

  it("keeps binary-safe content, including a CR LF right before the delimiter", async () => {
    const { parts } = await collect([
      form([{ name: "file", filename: "a.csv", body: "x\r\n\r\n" }]),
    ]);
    expect(parts[0]!.body).toBe("x\r\n\r\n");
  });

  it("refuses a body cut before its closing boundary", async () => {
    const cut = body.slice(0, body.indexOf("2,BENIGN"));
    await expect(collect([cut])).rejects.toThrow(
      new MultipartError("multipart body ends inside a part (no closing boundary)"),
    );
  });

  it("refuses a body without any boundary and a part without a field name", async () => {
    await expect(collect(["Flow Duration\n1\n"])).rejects.toThrow(
      "multipart body has no boundary line",
    );
    await expect(
      collect([`--${BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${BOUNDARY}--`]),
    ).rejects.toThrow("multipart part without a field name");
    await expect(
      collect([`--${BOUNDARY}\r\nContent-Type: text/csv\r\n\r\nx\r\n--${BOUNDARY}--`]),
    ).rejects.toThrow("multipart part without Content-Disposition: form-data");
  });
});
