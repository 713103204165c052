// The progress line on a terminal: once a second, the phase, its time so far, that second's
// throughput and p99, and the errors so far, written over itself on stderr; cleared when the phase
// ends, so that stdout (the report, or the JSON) stays clean.

import type { SecondReport } from './closed-loop.js';
import { formatCount, formatMs } from './table.js';

const CLEAR_LINE = '\r\x1b[2K';

export class ProgressLine {
  constructor(private readonly terminal: NodeJS.WritableStream) {}

  show(phase: string, second: SecondReport): void {
    this.terminal.write(
      `${CLEAR_LINE}${phase}  ${second.elapsedSeconds} s  ${formatCount(second.ops)} ops/s  p99 ${formatMs(second.p99)} ms  errors ${formatCount(second.errors)}`,
    );
  }

  /** A line of its own until the next one, e.g. while a cluster starts. */
  note(text: string): void {
    this.terminal.write(`${CLEAR_LINE}${text}`);
  }

  clear(): void {
    this.terminal.write(CLEAR_LINE);
  }
}
