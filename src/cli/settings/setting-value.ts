// What a setting's value may be, defined once for the three places a value comes from: a flag and
// an environment variable (text), and a config file (JSON or YAML, so already a number, a string, a
// list or a boolean). Each kind is a zod schema for the typed value, plus how text becomes such a
// value (digits become a number); a flag or a variable is converted, then checked by that same schema.
// So the three accept exactly the same values, normalise them the same way (an admin port alone
// becomes 127.0.0.1:PORT) and say the same thing when they refuse one.

import { InvalidArgumentError } from 'commander';
import { z } from 'zod';

export interface SettingValue<T> {
  /** The typed value, as a file holds it; its output is the setting's value. */
  readonly schema: z.ZodType<T>;
  /** A flag's or a variable's text, as a file would hold it. */
  readonly fromText: (text: string) => unknown;
  /** What it takes, in words ("an integer from 1 to 9"), for `config --defaults` and the docs. */
  readonly expected: string;
  /** The values it takes, when they are few (shown by --help). */
  readonly choices?: readonly string[];
  /** A flag without a value (--new-cluster): true when given; true or false in a file; no variable. */
  readonly isSwitch?: true;
}

const asText = (text: string): unknown => text;

/** The message of what a parser threw, without a closing period (callers add their own punctuation). */
function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\.$/, '');
}

export function integerValue(min: number, max: number): SettingValue<number> {
  const expected = `an integer from ${min} to ${max}`;
  const error = `expected ${expected}`;
  return {
    schema: z.int({ error }).min(min, { error }).max(max, { error }),
    fromText: (text) => (/^-?\d+$/.test(text.trim()) ? Number(text) : text),
    expected,
  };
}

export function choiceValue<const T extends string>(choices: readonly [T, ...T[]]): SettingValue<T> {
  const expected = `one of ${choices.join(', ')}`;
  return { schema: z.enum(choices, { error: `expected ${expected}` }), fromText: asText, expected, choices };
}

/**
 * A string, checked (and perhaps normalised) by `parse`, which throws with what is wrong: the parsers
 * the CLI's flags always had (options.ts), so their messages stay as they were.
 */
export function textValue(
  expected: string,
  parse: (text: string) => string = (text) => text,
): SettingValue<string> {
  return {
    schema: z.string({ error: `expected ${expected}` }).transform(parsedBy(parse)),
    fromText: asText,
    expected,
  };
}

/** A zod transform that runs a parser, turning what it throws into an issue at the value's path. */
function parsedBy<T>(parse: (text: string) => T) {
  return (text: string, context: z.core.$RefinementCtx<string>): T => {
    try {
      return parse(text);
    } catch (error) {
      context.addIssue({ code: 'custom', message: messageOf(error) });
      return z.NEVER;
    }
  };
}

/** A parser for `textValue` that refuses an empty or blank string. */
export function notBlank(text: string): string {
  if (text.trim() === '') throw new Error('must not be empty');
  return text;
}

/** A string or, in a file, a bare number (an admin port written `admin: 8001`), checked by `parse`. */
export function portOrAddressValue(expected: string, parse: (text: string) => string): SettingValue<string> {
  return {
    schema: z
      .union([z.string(), z.int()], { error: `expected ${expected}` })
      .transform(String)
      .transform(parsedBy(parse)),
    fromText: asText,
    expected,
  };
}

/** A list of ids: a list in a file, or comma-separated text (a flag, a variable, or a file too). */
export function listValue(expected: string, parse: (text: string) => string[]): SettingValue<string[]> {
  return {
    schema: z
      .union([z.array(z.string()), z.string()], { error: `expected ${expected}` })
      .transform((value) => (Array.isArray(value) ? value.join(',') : value))
      .transform(parsedBy(parse)),
    fromText: asText,
    expected,
  };
}

export function switchValue(): SettingValue<boolean> {
  return {
    schema: z.boolean({ error: 'expected true or false' }),
    fromText: asText,
    expected: 'true or false',
    isSwitch: true,
  };
}

/** Commander's parser for a flag (and its variable): the text converted, then the value's schema. */
export function flagParser<T>(value: SettingValue<T>): (text: string) => T {
  return (text) => {
    const result = value.schema.safeParse(value.fromText(text));
    if (result.success) return result.data;
    throw new InvalidArgumentError(`${result.error.issues[0]?.message ?? `expected ${value.expected}`}.`);
  };
}
