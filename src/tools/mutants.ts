// The mutants of one compiled JavaScript file of the protocol's core, for `npm run mutate`
// (mutate-core.ts): each removes or bends one rule, so that a mutant the simulator's checks do not
// catch names a rule that no fault of the swarm exercises (or a rule that does nothing). Three kinds:
//
// - `if-false`: an `if`'s condition becomes `false` (the guarded step never happens, or its else
//   always does);
// - `term-true` / `term-false`: one term of a condition that is a chain of `&&` (or of `||`) becomes
//   `true` (or `false`), in an `if`, a `return` or an initializer: one conjunct of a rule dropped;
// - `boundary`: a `<`, `<=`, `>` or `>=` moved by one (`<` to `<=`, ...): an off-by-one in a bound.
//
// Conditions naming `testOnlyFaults` are left alone (turning those off is the build itself), and so
// are the arguments of `assert(...)`: an assertion is a check, not a rule. The scan reads comments,
// strings and template literals as opaque, which is all the compiled core holds; it has no regular
// expression literals.

export type MutantKind = 'if-false' | 'term-true' | 'term-false' | 'boundary';

export interface Mutant {
  /** `file:line:kind:n`, n counting the mutants of that kind on that line. */
  readonly id: string;
  readonly file: string;
  /** 1-based line of the text replaced. */
  readonly line: number;
  readonly kind: MutantKind;
  /** Offsets into the file's text of what is replaced. */
  readonly start: number;
  readonly end: number;
  readonly before: string;
  readonly after: string;
}

/** The file's text with the mutant applied. */
export function applyMutant(text: string, mutant: Mutant): string {
  return text.slice(0, mutant.start) + mutant.after + text.slice(mutant.end);
}

/** Offsets of code outside comments, strings and template literals: `code[i]` is true for code. */
function codeMask(text: string): Uint8Array {
  const code = new Uint8Array(text.length);
  let at = 0;
  while (at < text.length) {
    const char = text[at];
    const next = text[at + 1];
    if (char === '/' && next === '/') {
      const end = text.indexOf('\n', at);
      at = end < 0 ? text.length : end;
    } else if (char === '/' && next === '*') {
      const end = text.indexOf('*/', at + 2);
      at = end < 0 ? text.length : end + 2;
    } else if (char === "'" || char === '"' || char === '`') {
      at += 1;
      while (at < text.length && text[at] !== char) at += text[at] === '\\' ? 2 : 1;
      at += 1;
    } else {
      code[at] = 1;
      at += 1;
    }
  }
  return code;
}

/** The offset of the parenthesis that closes the one at `open`, counting code only. */
function closingParen(text: string, code: Uint8Array, open: number): number {
  let depth = 0;
  for (let at = open; at < text.length; at += 1) {
    if (code[at] === 0) continue;
    const char = text[at];
    if (char === '(' || char === '[' || char === '{') depth += 1;
    else if (char === ')' || char === ']' || char === '}') {
      depth -= 1;
      if (depth === 0) return at;
    }
  }
  return -1;
}

/** The end of the expression that starts at `start`: the `;` (or `,`, or closing bracket) at depth 0. */
function expressionEnd(text: string, code: Uint8Array, start: number): number {
  let depth = 0;
  for (let at = start; at < text.length; at += 1) {
    if (code[at] === 0) continue;
    const char = text[at];
    if (char === '(' || char === '[' || char === '{') depth += 1;
    else if (char === ')' || char === ']' || char === '}') {
      if (depth === 0) return at;
      depth -= 1;
    } else if ((char === ';' || char === ',') && depth === 0) return at;
  }
  return text.length;
}

interface Span {
  readonly start: number;
  readonly end: number;
}

/** The top-level terms of `[start, end)` if it is a chain of one operator (`&&` or `||`), else null. */
function chainTerms(
  text: string,
  code: Uint8Array,
  start: number,
  end: number,
): { operator: '&&' | '||'; terms: Span[] } | null {
  let depth = 0;
  let operator: '&&' | '||' | null = null;
  const terms: Span[] = [];
  let termStart = start;
  for (let at = start; at < end; at += 1) {
    if (code[at] === 0) continue;
    const char = text[at];
    if (char === '(' || char === '[' || char === '{') depth += 1;
    else if (char === ')' || char === ']' || char === '}') depth -= 1;
    // A conditional or `??` at the top: not a chain (`?.` is a property read).
    else if (depth === 0 && char === '?' && text[at + 1] !== '.') return null;
    else if (depth === 0 && (char === '&' || char === '|') && text[at + 1] === char && code[at + 1] === 1) {
      const found = char === '&' ? '&&' : '||';
      if (operator !== null && operator !== found) return null;
      operator = found;
      terms.push({ start: termStart, end: at });
      termStart = at + 2;
      at += 1;
    }
  }
  if (operator === null) return null;
  terms.push({ start: termStart, end });
  return { operator, terms };
}

/** `[start, end)` without surrounding white space. */
function trimmed(text: string, start: number, end: number): Span {
  let from = start;
  let to = end;
  while (from < to && /\s/.test(text[from] ?? '')) from += 1;
  while (to > from && /\s/.test(text[to - 1] ?? '')) to -= 1;
  return { start: from, end: to };
}

/** Spans of `assert(...)` calls' arguments, where nothing is mutated. */
function assertSpans(text: string, code: Uint8Array): Span[] {
  const spans: Span[] = [];
  for (const match of text.matchAll(/\bassert\(/g)) {
    const open = match.index + match[0].length - 1;
    if (code[match.index] === 0) continue;
    const close = closingParen(text, code, open);
    if (close > open) spans.push({ start: open, end: close });
  }
  return spans;
}

const boundaryFlips: Readonly<Record<string, string>> = { '<': '<=', '<=': '<', '>': '>=', '>=': '>' };

/** Every mutant of `text`, the compiled JavaScript of `file`, in the order of their offsets. */
export function mutantsOf(file: string, text: string): Mutant[] {
  const code = codeMask(text);
  const asserts = assertSpans(text, code);
  const inAssert = (at: number) => asserts.some((span) => at > span.start && at < span.end);
  const lineStarts = [0];
  for (let at = 0; at < text.length; at += 1) if (text[at] === '\n') lineStarts.push(at + 1);
  const lineOf = (offset: number): number => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((lineStarts[middle] ?? 0) <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  };
  const mutants: Omit<Mutant, 'id'>[] = [];
  const add = (kind: MutantKind, span: Span, after: string) => {
    if (inAssert(span.start)) return;
    const before = text.slice(span.start, span.end);
    if (before.includes('testOnlyFaults')) return;
    mutants.push({ file, line: lineOf(span.start), kind, start: span.start, end: span.end, before, after });
  };
  const addTerms = (span: Span) => {
    const chain = chainTerms(text, code, span.start, span.end);
    if (chain === null || chain.terms.length < 2) return;
    for (const term of chain.terms) {
      add(
        chain.operator === '&&' ? 'term-true' : 'term-false',
        trimmed(text, term.start, term.end),
        chain.operator === '&&' ? 'true' : 'false',
      );
    }
  };

  for (const match of text.matchAll(/\bif \(/g)) {
    if (code[match.index] === 0) continue;
    const open = match.index + match[0].length - 1;
    const close = closingParen(text, code, open);
    if (close < 0) continue;
    const condition = trimmed(text, open + 1, close);
    add('if-false', condition, 'false');
    addTerms(condition);
  }
  for (const match of text.matchAll(/\breturn (?=[^;])|(?:const|let) [A-Za-z_$][\w$]* = /g)) {
    if (code[match.index] === 0) continue;
    const start = match.index + match[0].length;
    const expression = trimmed(text, start, expressionEnd(text, code, start));
    // One pair of parentheses around the whole expression, as the compiler prints long returns.
    const wrapped =
      text[expression.start] === '(' && closingParen(text, code, expression.start) === expression.end - 1
        ? trimmed(text, expression.start + 1, expression.end - 1)
        : expression;
    addTerms(wrapped);
  }
  for (const match of text.matchAll(/ (<=|>=|<|>) /g)) {
    if (code[match.index + 1] === 0) continue;
    const operator = match[1] ?? '';
    const start = match.index + 1;
    add('boundary', { start, end: start + operator.length }, boundaryFlips[operator] ?? operator);
  }

  mutants.sort((a, b) => a.start - b.start || a.kind.localeCompare(b.kind));
  const counts = new Map<string, number>();
  return mutants.map((mutant) => {
    const key = `${mutant.file}:${mutant.line}:${mutant.kind}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    return { id: `${key}:${n}`, ...mutant };
  });
}
