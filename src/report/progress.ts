// The progress of a long sync on a terminal: one line "[3/10 hosts, 1 failed]"
// ("[batch 2/4: 3/10 hosts, 1 failed]" in a rollout in batches) rewritten in place. This is the only part of report/ that writes, and only
// to the stream it is given.

const CLEAR_LINE = "\r\x1b[2K";

export class Progress {
  private readonly tty: boolean;
  /** The progress text on screen, or null when the line is clear. */
  private shown: string | null = null;
  private last: string | null = null;

  /** Progress is drawn only when `stream.isTTY`. */
  constructor(private readonly stream: NodeJS.WriteStream) {
    this.tty = stream.isTTY === true;
  }

  /** `batch`: the running batch (from 1) and how many there are, in a rollout in batches. */
  update(
    done: number,
    total: number,
    failed: number,
    batch: { index: number; count: number } | null = null,
  ): void {
    if (!this.tty) return;
    const where = batch === null ? "" : `batch ${batch.index}/${batch.count}: `;
    this.last = `[${where}${done}/${total} hosts${failed > 0 ? `, ${failed} failed` : ""}]`;
    this.draw();
  }

  /** Removes the progress line (call before the report is printed). */
  clear(): void {
    this.last = null;
    if (this.shown === null) return;
    this.stream.write(CLEAR_LINE);
    this.shown = null;
  }

  /** Writes a line (already escaped) above the progress line, which is then
   * redrawn. Without a terminal the line is written as it is. */
  line(text: string): void {
    if (this.shown !== null) {
      this.stream.write(CLEAR_LINE);
      this.shown = null;
    }
    this.stream.write(text + "\n");
    this.draw();
  }

  private draw(): void {
    if (!this.tty || this.last === null || this.last === this.shown) return;
    this.stream.write(CLEAR_LINE + this.last);
    this.shown = this.last;
  }
}
