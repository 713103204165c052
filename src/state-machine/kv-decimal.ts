// Decimal numbers as text, for incr-float (Redis INCRBYFLOAT). A value is read as Redis reads one
// (decimal digits, an optional fraction and exponent, nothing around them) and a sum is written
// back as plain decimal text: rounded to 15 significant digits, the most a double carries
// faithfully, so 0.1 + 0.2 is kept as "0.3" (as Redis, computing in long double, answers) rather
// than the double's "0.30000000000000004"; never with an exponent, as Redis writes them.

const decimalPattern = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** Significant digits a sum is kept with. */
const decimalDigits = 15;

/** `text` as a finite number, or null if it is not a decimal number or names an infinite one. */
export function parseDecimal(text: string): number | null {
  if (!decimalPattern.test(text)) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** `value` (finite) as plain decimal text of at most `decimalDigits` significant digits. */
export function formatDecimal(value: number): string {
  const [mantissa = '0', exponentText = '0'] = value.toExponential(decimalDigits - 1).split('e');
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '').replace(/0+$/, '');
  if (digits === '') return '0'; // zero, either sign
  const exponent = Number(exponentText);
  let text: string;
  if (exponent < 0) text = `0.${'0'.repeat(-exponent - 1)}${digits}`;
  else if (digits.length <= exponent + 1) text = digits + '0'.repeat(exponent + 1 - digits.length);
  else text = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
  return negative ? `-${text}` : text;
}
