// What a setting's value may be, defined once for the three places a value comes from: a flag and
// an environment variable (text), and a config file (JSON or YAML, so already a number, a string, a
// list or a boolean). Each kind is a check of the typed value, plus how text becomes such a value
// (digits become a number); a flag or a variable is converted, then checked by that same check.
// So the three accept exactly the same values, normalise them the same way (an admin port alone
// becomes 127.0.0.1:PORT) and say the same thing when they refuse one.

import { InvalidArgumentError } from 'commander';

/** A value checked: the typed (perhaps normalised) value, or what is wrong with it. */
export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string };

export interface SettingValue<T> {
  /** Checks the typed value, as a file holds it (or as a flag's text became); ok with the setting's value. */
  readonly check: (value: unknown) => Checked<T>;
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
const accepted = <T>(value: T): Checked<T> => ({ ok: true, value });
const refused = (message: string): Checked<never> => ({ ok: false, message });

/** The message of what a parser threw, without a closing period (callers add their own punctuation). */
function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\.$/, '');
}

/** Runs a parser that throws with what is wrong. */
function parsedBy<T>(parse: (text: string) => T, text: string): Checked<T> {
  try {
    return accepted(parse(text));
  } catch (error) {
    return refused(messageOf(error));
  }
}

export function integerValue(min: number, max: number): SettingValue<number> {
  const expected = `an integer from ${min} to ${max}`;
  return {
    check: (value) =>
      typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max
        ? accepted(value)
        : refused(`expected ${expected}`),
    fromText: (text) => (/^-?\d+$/.test(text.trim()) ? Number(text) : text),
    expected,
  };
}

export function choiceValue<const T extends string>(choices: readonly [T, ...T[]]): SettingValue<T> {
  const expected = `one of ${choices.join(', ')}`;
  const isChoice = (value: unknown): value is T => choices.some((choice) => choice === value);
  return {
    check: (value) => (isChoice(value) ? accepted(value) : refused(`expected ${expected}`)),
    fromText: asText,
    expected,
    choices,
  };
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
    check: (value) => (typeof value === 'string' ? parsedBy(parse, value) : refused(`expected ${expected}`)),
    fromText: asText,
    expected,
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
    check: (value) =>
      typeof value === 'string' || (typeof value === 'number' && Number.isSafeInteger(value))
        ? parsedBy(parse, String(value))
        : refused(`expected ${expected}`),
    fromText: asText,
    expected,
  };
}

/** A list of ids: a list in a file, or comma-separated text (a flag, a variable, or a file too). */
export function listValue(expected: string, parse: (text: string) => string[]): SettingValue<string[]> {
  return {
    check: (value) => {
      if (typeof value === 'string') return parsedBy(parse, value);
      if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
        return parsedBy(parse, value.join(','));
      }
      return refused(`expected ${expected}`);
    },
    fromText: asText,
    expected,
  };
}

export function switchValue(): SettingValue<boolean> {
  return {
    check: (value) => (typeof value === 'boolean' ? accepted(value) : refused('expected true or false')),
    fromText: asText,
    expected: 'true or false',
    isSwitch: true,
  };
}

/** Commander's parser for a flag (and its variable): the text converted, then the value's check. */
export function flagParser<T>(value: SettingValue<T>): (text: string) => T {
  return (text) => {
    const result = value.check(value.fromText(text));
    if (result.ok) return result.value;
    throw new InvalidArgumentError(`${result.message}.`);
  };
}
