// The patterns of Redis's KEYS and SCAN MATCH, over keys as latin1 strings (one character a byte):
//
//   *        any run of bytes, the empty one too
//   ?        any one byte
//   [abc]    one of the bytes listed; [a-z] a range (either way round); [^...] any byte not listed
//   \x       the byte x itself, outside a class or inside one
//
// A class with no closing `]` runs to the end of the pattern, as Redis reads it. Matching keeps the
// position after the last `*` and moves it on by one byte at each mismatch, so it takes time
// proportional to the pattern's length times the key's, never exponential in the stars.

/** Whether `key` matches `pattern` (both latin1 strings). */
export function globMatches(pattern: string, key: string): boolean {
  let p = 0;
  let k = 0;
  // Where to resume after a mismatch: the pattern just past the last star, and the key's next byte.
  let starPattern = -1;
  let starKey = 0;
  while (k < key.length) {
    const step = p < pattern.length ? matchOne(pattern, p, key.charCodeAt(k)) : noMatch;
    if (step === star) {
      starPattern = p + 1;
      starKey = k;
      p += 1;
      continue;
    }
    if (step !== noMatch) {
      p = step;
      k += 1;
      continue;
    }
    if (starPattern < 0) return false;
    p = starPattern;
    starKey += 1;
    k = starKey;
  }
  while (p < pattern.length && pattern.charCodeAt(p) === asterisk) p += 1;
  return p === pattern.length;
}

/** Whether any key could fail `pattern`: false for `*` alone (and `**`...), which SCAN then skips. */
export function globFilters(pattern: string): boolean {
  for (let p = 0; p < pattern.length; p++) if (pattern.charCodeAt(p) !== asterisk) return true;
  return false;
}

const asterisk = 0x2a;
const question = 0x3f;
const backslash = 0x5c;
const openBracket = 0x5b;
const closeBracket = 0x5d;
const caret = 0x5e;
const dash = 0x2d;
/** matchOne's answers besides the position after the token: the token is a star, or fails. */
const star = -1;
const noMatch = -2;

/**
 * Matches the one token at `p` against `byte`: the position after the token if it matches, `star`
 * if the token is a `*` (the caller decides), `noMatch` otherwise.
 */
function matchOne(pattern: string, p: number, byte: number): number {
  const token = pattern.charCodeAt(p);
  if (token === asterisk) return star;
  if (token === question) return p + 1;
  if (token === backslash && p + 1 < pattern.length) {
    return pattern.charCodeAt(p + 1) === byte ? p + 2 : noMatch;
  }
  if (token === openBracket) return matchClass(pattern, p + 1, byte);
  return token === byte ? p + 1 : noMatch;
}

/** A class starting at `p` (just past its `[`): the position after its `]` if `byte` is in it. */
function matchClass(pattern: string, start: number, byte: number): number {
  let p = start;
  const negated = p < pattern.length && pattern.charCodeAt(p) === caret;
  if (negated) p += 1;
  let found = false;
  while (p < pattern.length) {
    const c = pattern.charCodeAt(p);
    if (c === closeBracket) break;
    if (c === backslash && p + 1 < pattern.length) {
      if (pattern.charCodeAt(p + 1) === byte) found = true;
      p += 2;
      continue;
    }
    if (
      p + 2 < pattern.length &&
      pattern.charCodeAt(p + 1) === dash &&
      pattern.charCodeAt(p + 2) !== closeBracket
    ) {
      const low = Math.min(c, pattern.charCodeAt(p + 2));
      const high = Math.max(c, pattern.charCodeAt(p + 2));
      if (byte >= low && byte <= high) found = true;
      p += 3;
      continue;
    }
    if (c === byte) found = true;
    p += 1;
  }
  // p is at the `]`, or at the end of a class left open.
  return found !== negated ? Math.min(p + 1, pattern.length) : noMatch;
}
