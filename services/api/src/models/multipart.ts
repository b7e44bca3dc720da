/**
 * A streaming reader of `multipart/form-data` bodies (RFC 7578): parts are announced with their
 * headers and their content flows through as it arrives, so a file part of any size passes in
 * constant memory. Written here because the API package has no multipart dependency; it reads
 * what browsers' FormData, curl `-F` and fetch send.
 */

/** A part begins: its form field name and, for a file, the file name. */
export interface MultipartPartStart {
  type: "part";
  name: string;
  filename?: string;
  contentType?: string;
}

/** Events, in body order: `part`, then `data` chunks, then `end` for each part. */
export type MultipartEvent = MultipartPartStart | { type: "data"; chunk: Buffer } | { type: "end" };

/** The body is not well-formed multipart. */
export class MultipartError extends Error {
  override readonly name = "MultipartError";
}

/** Longest header block of one part; real ones are a few hundred bytes. */
const MAX_PART_HEADER_BYTES = 16 * 1024;
const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

/**
 * The boundary of a `multipart/form-data` content type, or null when the type is not multipart
 * or has no usable boundary.
 */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return null;
  const match = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  // RFC 2046: 1 to 70 characters.
  return boundary !== undefined && boundary.length <= 70 ? boundary : null;
}

/**
 * Reads a multipart body. The consumer must take each event before the next is read (a
 * `for await` loop does), which is what bounds memory. Throws {@link MultipartError} on a
 * malformed body, including one that ends before its closing boundary.
 */
export async function* readMultipart(
  body: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  boundary: string,
): AsyncGenerator<MultipartEvent> {
  const firstBoundary = Buffer.from(`--${boundary}`);
  // Every boundary after the first is preceded by the CRLF that ends the previous part.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const source = (async function* () {
    yield* body;
  })();
  let buffer: Buffer = Buffer.alloc(0);
  let ended = false;
  const readMore = async (): Promise<boolean> => {
    if (ended) return false;
    const next = await source.next();
    if (next.done) {
      ended = true;
      return false;
    }
    const value = next.value;
    const chunk =
      typeof value === "string"
        ? Buffer.from(value)
        : Buffer.isBuffer(value)
          ? value
          : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    return true;
  };

  // Preamble: anything before the first boundary is ignored.
  for (;;) {
    const at = buffer.indexOf(firstBoundary);
    if (at >= 0) {
      buffer = buffer.subarray(at + firstBoundary.length);
      break;
    }
    buffer = buffer.subarray(Math.max(0, buffer.length - firstBoundary.length + 1));
    if (!(await readMore())) throw new MultipartError("multipart body has no boundary line");
  }

  for (;;) {
    // After a boundary: `--` closes the body, CRLF opens a part (RFC 2046 allows spaces first).
    while (buffer.length < 2) {
      if (!(await readMore())) throw new MultipartError("multipart body ends after a boundary");
    }
    if (buffer[0] === 0x2d && buffer[1] === 0x2d) return; // the epilogue is ignored
    let lineEnd = buffer.indexOf(CRLF);
    while (lineEnd < 0) {
      if (buffer.length > MAX_PART_HEADER_BYTES || !(await readMore())) {
        throw new MultipartError("multipart boundary line is malformed");
      }
      lineEnd = buffer.indexOf(CRLF);
    }
    if (buffer.subarray(0, lineEnd).toString("latin1").trim() !== "") {
      throw new MultipartError("multipart boundary line is malformed");
    }
    buffer = buffer.subarray(lineEnd + CRLF.length);

    // Part headers, up to an empty line (a part with no headers starts with CRLF at once).
    let headerEnd = buffer.subarray(0, 2).equals(CRLF) ? -2 : buffer.indexOf(HEADER_END);
    while (headerEnd === -1) {
      if (buffer.length > MAX_PART_HEADER_BYTES) {
        throw new MultipartError(`multipart part headers exceed ${MAX_PART_HEADER_BYTES} bytes`);
      }
      if (!(await readMore())) throw new MultipartError("multipart body ends inside part headers");
      headerEnd = buffer.subarray(0, 2).equals(CRLF) ? -2 : buffer.indexOf(HEADER_END);
    }
    const headerText = headerEnd === -2 ? "" : buffer.subarray(0, headerEnd).toString("utf8");
    buffer = buffer.subarray(headerEnd === -2 ? 2 : headerEnd + HEADER_END.length);
    yield parsePartHeaders(headerText);

    // Content, up to the next delimiter. Everything but a possible delimiter prefix at the end of
    // the buffer can be handed on.
    for (;;) {
      const at = buffer.indexOf(delimiter);
      if (at >= 0) {
        if (at > 0) yield { type: "data", chunk: buffer.subarray(0, at) };
        buffer = buffer.subarray(at + delimiter.length);
        yield { type: "end" };
        break;
      }
      const safe = buffer.length - (delimiter.length - 1);
      if (safe > 0) {
        yield { type: "data", chunk: buffer.subarray(0, safe) };
        buffer = buffer.subarray(safe);
      }
      if (!(await readMore())) {
        throw new MultipartError("multipart body ends inside a part (no closing boundary)");
      }
    }
  }
}

function parsePartHeaders(text: string): MultipartPartStart {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-disposition") disposition = value;
    else if (name === "content-type") contentType = value;
  }
  if (disposition === undefined || !/^form-data\s*(;|$)/i.test(disposition)) {
    throw new MultipartError("multipart part without Content-Disposition: form-data");
  }
  const params = dispositionParameters(disposition);
  const name = params.get("name");
  if (name === undefined) throw new MultipartError("multipart part without a field name");
  const filename = params.get("filename");
  return {
    type: "part",
    name,
    ...(filename === undefined ? {} : { filename }),
    ...(contentType === undefined ? {} : { contentType }),
  };
}

/** `name="a"; filename="b.csv"` as a map; quoted values may hold `\"` and `;`. */
function dispositionParameters(value: string): Map<string, string> {
  const params = new Map<string, string>();
  const pattern = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const match of value.matchAll(pattern)) {
    const key = match[1]!.toLowerCase();
    const raw = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3]!.trim();
    if (!params.has(key)) params.set(key, raw);
  }
  return params;
}
