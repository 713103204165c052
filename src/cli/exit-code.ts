// The understudy command's exit codes: a module of its own, so main.ts can name them without loading
// the client (options.ts's parsers need it) before it knows which command runs.

/** Exit codes of the understudy command. */
export const exitCode = { success: 0, failed: 1, usage: 2 } as const;
