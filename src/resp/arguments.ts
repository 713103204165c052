// Reading command arguments the way Redis does, with Redis's error texts: an integer argument is
// strict decimal (no sign but '-', no leading zeros, no spaces), and anything else is
// "value is not an integer or out of range". The key/value store counts in safe integers
// (±2^53 − 1), not 64-bit ones, so the range here is the store's.

import { parseDecimal } from '../state-machine/kv-decimal.js';
import { notAFloatText, RespArgumentError } from './errors.js';

const integerPattern = /^(0|-?[1-9][0-9]*)$/;

export const notAnIntegerText = 'ERR value is not an integer or out of range';

/** The argument as a safe integer, or a RespArgumentError with `errorText`. */
export function integerArgument(argument: Buffer, errorText = notAnIntegerText): number {
  const text = argument.toString('latin1');
  const value = integerPattern.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new RespArgumentError(errorText);
  return value;
}

/**
 * The argument as a finite number, as Redis reads INCRBYFLOAT's: decimal, an optional fraction and
 * exponent, no spaces; else a RespArgumentError with Redis's text. (Redis also takes hexadecimal and
 * "inf", which an increment could not use anyway.)
 */
export function floatArgument(argument: Buffer): number {
  const value = parseDecimal(argument.toString('latin1'));
  if (value === null) throw new RespArgumentError(notAFloatText);
  return value;
}

/** The argument as a lowercase name (commands, options, sections): ASCII case folded. */
export function lowerName(argument: Buffer): string {
  return argument.toString('latin1').toLowerCase();
}
