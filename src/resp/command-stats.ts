// INFO commandstats and errorstats, as Redis keeps them: per command the calls and the microseconds
// they took (from starting to run to their answer: for a write, the wait for the backups' disks too);
// per error reply, its first word (ERR, NOAUTH, WRONGPASS, UNAVAILABLE, ...; a reply's own, not those
// inside EXEC's array, which Redis counts too). redis_exporter turns
// them into redis_commands_total, redis_commands_duration_seconds_total and redis_errors_total. The
// per-command line is Redis's before 6.2 (no rejected_calls and failed_calls: errors here are not
// told apart by whether the command began to run, and errorstats counts them all). Only commands the port knows are counted, by their top-level name (`client`,
// not `client|list`), and error words are capped in number, so a client sending made-up names or
// errors cannot grow these tables. A pipeline that ran as one sequence shares its time evenly among
// its commands.

/** Distinct error words kept; later new ones are counted under `errorstatOther`. */
const errorWordsMax = 128;
const errorstatOther = 'OTHER';

interface CommandCounts {
  calls: number;
  micros: number;
}

/** Entries ordered by their name, as Redis lists them. */
const byName = ([a]: readonly [string, unknown], [b]: readonly [string, unknown]): number =>
  a < b ? -1 : a > b ? 1 : 0;

export class CommandStats {
  readonly #commands = new Map<string, CommandCounts>();
  readonly #errors = new Map<string, number>();

  /** One run of the known command `name` that took `micros`. */
  noteCall(name: string, micros: number): void {
    let counts = this.#commands.get(name);
    if (counts === undefined) {
      counts = { calls: 0, micros: 0 };
      this.#commands.set(name, counts);
    }
    counts.calls += 1;
    counts.micros += micros;
  }

  /** An error reply (`error` its text), counted by its first word. */
  noteError(error: string): void {
    const space = error.indexOf(' ');
    let word = space < 0 ? error : error.slice(0, space);
    if (!this.#errors.has(word) && this.#errors.size >= errorWordsMax) word = errorstatOther;
    this.#errors.set(word, (this.#errors.get(word) ?? 0) + 1);
  }

  /** INFO commandstats' fields, by command name. */
  commandFields(): [string, string][] {
    return [...this.#commands]
      .sort(byName)
      .map(([name, { calls, micros }]) => [
        `cmdstat_${name}`,
        `calls=${calls},usec=${Math.round(micros)},usec_per_call=${(micros / calls).toFixed(2)}`,
      ]);
  }

  /** INFO errorstats' fields, by error word. */
  errorFields(): [string, string][] {
    return [...this.#errors].sort(byName).map(([word, count]) => [`errorstat_${word}`, `count=${count}`]);
  }
}
