// The servers' log: pino, one JSON object per line on stderr. Stdout stays for what commands print
// (`understudy start` and the tests wait for the ready line there).
//
// Lines are written synchronously, by pino's own destination (sonic-boom with `sync: true`) in this
// thread: no transport, so no worker thread, and nothing buffered in memory. A process that stops
// right after a line (process.exit after a fatal error, or a kill -9 a moment later) has that line
// on its stderr already; an asynchronous destination would lose its last lines exactly when they
// matter. The price, a write(2) per line, is nothing here: a server logs at its start, at view
// changes, state transfers and bad input, never per request.
//
// Each line: level (by name, so `"level":"error"` greps), time (ISO 8601), pid, hostname, the
// component ("coordinator", "replica r1"), the line's own fields, and `message` (pino calls it `msg`
// by default; `message` is what these logs always had, and what the chaos runner reads).

import { pino } from 'pino';

/** pino's levels, quietest last: a level shows its own lines and those of every level after it. */
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];
export const logLevelDefault: LogLevel = 'info';

export type Logger = pino.Logger;
export type LogDestination = pino.DestinationStream;

export const logMessageKey = 'message';

let stderr: LogDestination | null = null;

/** One destination for every logger of the process: stderr, written synchronously (see above). */
function stderrDestination(): LogDestination {
  stderr ??= pino.destination({ dest: 2, sync: true });
  return stderr;
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Where lines go: stderr unless a test (or an embedding program) gives another stream. */
  readonly destination?: LogDestination;
}

/** A process's logger; servers take a child of it per component. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? logLevelDefault,
      messageKey: logMessageKey,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? stderrDestination(),
  );
}

/** An error as a log field: its message (what failed, for the operator), without the stack. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
