// Structured logs: one JSON object per line on stderr, so stdout stays for what commands print.
// Small on purpose; replace with pino when log volume or sinks call for it.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const levels: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const threshold = levels[(process.env.UNDERSTUDY_LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? levels.info;

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(component: string): Logger {
  return {
    log(level, message, fields = {}) {
      if (levels[level] < threshold) return;
      process.stderr.write(
        `${JSON.stringify({ time: new Date().toISOString(), level, component, message, ...fields })}\n`,
      );
    },
  };
}
