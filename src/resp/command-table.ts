// The commands the port knows, with Redis's arity rule (a positive arity is the exact argument
// count, the name included; a negative one the minimum) and the facts COMMAND reports. Dispatch
// checks the arity before a handler runs, so handlers read their arguments without counting them.
// A command that is not here is answered "unknown command", never run as something else.

import type { KvOperation, KvResult } from '../state-machine/index.js';
import { lowerName } from './arguments.js';
import { mayRun, noAuthRefusal } from './auth.js';
import type { CommandContext } from './context.js';
import { errorReply } from './errors.js';
import { type RespReply, reply } from './replies.js';

export type CommandHandler = (
  args: readonly Buffer[],
  context: CommandContext,
) => RespReply | Promise<RespReply>;

/**
 * A key/value command as one operation of the store and how its result is answered, so that
 * pipelined commands can run as one sequence (pipeline.ts). A command whose arguments are wrong
 * plans its error reply instead.
 */
export interface KvPlan {
  readonly operation: KvOperation;
  readonly reply: (result: KvResult) => RespReply;
}

export type Planned = KvPlan | RespReply;

export function isPlan(planned: Planned): planned is KvPlan {
  return 'operation' in planned;
}

export interface CommandSpec {
  readonly name: string;
  readonly arity: number;
  /** As COMMAND reports them: write, readonly, fast, ... */
  readonly flags: readonly string[];
  /** Positions of the first and last key argument and the step between keys (0 0 0: no keys; -1: to the end). */
  readonly keys: readonly [first: number, last: number, step: number];
  readonly handler: CommandHandler;
  /** For a key/value command: its plan (the handler runs the same plan alone). */
  readonly plan?: (args: readonly Buffer[]) => Planned;
}

export function wrongArity(name: string): RespReply {
  return reply.error(`ERR wrong number of arguments for '${name}' command`);
}

/** Redis's answer to a container command (CLIENT, CONFIG, ...) whose subcommand it does not know. */
export function unknownSubcommand(args: readonly Buffer[], container: string): RespReply {
  const subcommand = (args[1] ?? Buffer.alloc(0)).toString('utf8').slice(0, 128);
  return reply.error(`ERR unknown subcommand '${subcommand}'. Try ${container} HELP.`);
}

/** A container command's HELP: its lines as simple strings. */
export function helpReply(lines: readonly string[]): RespReply {
  return reply.array(lines.map((line) => reply.simple(line)));
}

/** Redis's answer to an unknown command: its name and the start of its arguments, quoted. */
export function unknownCommand(args: readonly Buffer[]): RespReply {
  const name = (args[0] ?? Buffer.alloc(0)).toString('utf8').slice(0, 128);
  let shown = '';
  for (const argument of args.slice(1)) {
    if (shown.length >= 128) break;
    shown += `'${argument.toString('utf8').slice(0, 128 - shown.length)}' `;
  }
  return reply.error(`ERR unknown command '${name}', with args beginning with: ${shown}`);
}

/** Whether `args` (name first) has a number of arguments `spec` takes (a negative arity: at least). */
function fitsArity(spec: CommandSpec, args: readonly Buffer[]): boolean {
  return spec.arity >= 0 ? args.length === spec.arity : args.length >= -spec.arity;
}

export class CommandTable {
  readonly #byName = new Map<string, CommandSpec>();

  constructor(specs: readonly CommandSpec[]) {
    for (const spec of specs) this.#byName.set(spec.name, spec);
  }

  get specs(): readonly CommandSpec[] {
    return [...this.#byName.values()];
  }

  lookup(name: string): CommandSpec | undefined {
    return this.#byName.get(name);
  }

  #specOf(args: readonly Buffer[]): CommandSpec | undefined {
    return this.#byName.get(lowerName(args[0] ?? Buffer.alloc(0)));
  }

  /** Runs `args` (name first), which `refusal` let through: a known command that may run. */
  run(args: readonly Buffer[], context: CommandContext): RespReply | Promise<RespReply> {
    return (this.#specOf(args) as CommandSpec).handler(args, context);
  }

  /**
   * Why `args` may not run, as its reply: an unknown command, a wrong number of arguments, or (after
   * those, as Redis orders its checks) a connection that has not authenticated; null if it may.
   */
  refusal(args: readonly Buffer[], context: CommandContext): RespReply | null {
    const spec = this.#specOf(args);
    if (spec === undefined) return unknownCommand(args);
    if (!fitsArity(spec, args)) return wrongArity(spec.name);
    return noAuthRefusal(spec.name, context);
  }

  /**
   * The plan of `args` if it is a key/value command that `refusal` would let through (known, a fitting
   * number of arguments, allowed on this connection); null for any other, which the server answers
   * alone (its refusal, or `run`).
   */
  plan(args: readonly Buffer[], context: CommandContext): Planned | null {
    const spec = this.#specOf(args);
    if (spec?.plan === undefined || !fitsArity(spec, args) || !mayRun(spec.name, context)) return null;
    try {
      return spec.plan(args);
    } catch (error) {
      const mapped = errorReply(error);
      if (mapped === null) throw error;
      return mapped;
    }
  }
}
