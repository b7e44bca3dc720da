/** Writes to standard output with backpressure, so a huge `score` output streams in constant memory. */
export class LineWriter {
  #buffer: string[] = [];
  #size = 0;

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {}

  /** Queues one line; flushes when 64 KiB are queued. */
  async line(text: string): Promise<void> {
    this.#buffer.push(text);
    this.#size += text.length + 1;
    if (this.#size >= 1 << 16) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#buffer.length === 0) return;
    const text = this.#buffer.join("\n") + "\n";
    this.#buffer = [];
    this.#size = 0;
    if (!this.stream.write(text)) {
      await new Promise<void>((resolve) => this.stream.once("drain", resolve));
    }
  }
}
