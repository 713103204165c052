// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: it refuses
// what Prometheus would refuse (a bad metric or label name, an unescaped quote, a value that is not a
// float, a TYPE after its samples or given twice, a family split in two, a series given twice) and
// checks what a histogram promises (buckets with `le`, cumulative, ending in +Inf equal to _count).
// The npm parsers we tried drop the labels of histogram series, so they could not check ours.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  type: string;
  help: string;
  readonly samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const types = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: Family | null = null;
  const familyFor = (name: string): Family => {
    if (current?.name === name) return current;
    if (current !== null) closed.add(current.name);
    if (closed.has(name)) throw new Error(`family ${name} is split in two`);
    const family: Family = families.get(name) ?? { name, type: 'untyped', help: '', samples: [] };
    families.set(name, family);
    current = family;
    return family;
  };
  if (!text.endsWith('\n')) throw new Error('the text must end with a newline');
  for (const [number, line] of text.split('\n').entries()) {
    const where = `line ${number + 1}: ${line}`;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (match === null) continue; // a plain comment
      const [, keyword, name = '', rest = ''] = match;
      if (!metricName.test(name)) throw new Error(`bad metric name, ${where}`);
      const family = familyFor(name);
      if (keyword === 'TYPE') {
        if (!types.has(rest)) throw new Error(`unknown type, ${where}`);
        if (family.samples.length > 0) throw new Error(`TYPE after samples, ${where}`);
        family.type = rest;
      } else family.help = rest;
      continue;
    }
    const sample = parseSample(line, where);
    const family = familyFor(familyName(sample.name, current));
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`series given twice, ${where}`);
    seen.add(key);
    family.samples.push(sample);
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** A histogram's or summary's samples carry suffixes; they belong to the family being read. */
function familyName(name: string, current: Family | null): string {
  if (current !== null && (current.type === 'histogram' || current.type === 'summary')) {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (name === `${current.name}${suffix}`) return current.name;
    }
  }
  return name;
}

function parseSample(line: string, where: string): Sample {
  const nameMatch = /^([^\s{]+)/.exec(line);
  const name = nameMatch?.[1] ?? '';
  if (!metricName.test(name)) throw new Error(`bad metric name, ${where}`);
  let position = name.length;
  const labels: Record<string, string> = {};
  if (line[position] === '{') {
    position++;
    while (line[position] !== '}') {
      const labelMatch = /^([^=\s]+)="/.exec(line.slice(position));
      const label = labelMatch?.[1] ?? '';
      if (!labelName.test(label)) throw new Error(`bad label name, ${where}`);
      if (label in labels) throw new Error(`label given twice, ${where}`);
      position += label.length + 2;
      let value = '';
      for (;;) {
        const character = line[position++];
        if (character === undefined) throw new Error(`unterminated label value, ${where}`);
        if (character === '"') break;
        if (character === '\\') {
          const escaped = line[position++];
          if (escaped === 'n') value += '\n';
          else if (escaped === '\\' || escaped === '"') value += escaped;
          else throw new Error(`bad escape, ${where}`);
        } else value += character;
      }
      labels[label] = value;
      if (line[position] === ',') position++;
      else if (line[position] !== '}') throw new Error(`expected , or }, ${where}`);
    }
    position++;
  }
  const rest = line.slice(position);
  const valueMatch = /^ (\S+)( -?\d+)?$/.exec(rest);
  if (valueMatch === null) throw new Error(`expected " value [timestamp]", ${where}`);
  return { name, labels, value: parseValue(valueMatch[1] ?? '', where) };
}

/** As Prometheus reads values (Go's ParseFloat): special values in any case; prom-client writes "Nan". */
function parseValue(text: string, where: string): number {
  const special = text.toLowerCase();
  if (special === '+inf' || special === 'inf' || special === '+infinity' || special === 'infinity') {
    return Number.POSITIVE_INFINITY;
  }
  if (special === '-inf' || special === '-infinity') return Number.NEGATIVE_INFINITY;
  if (special === 'nan') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value, ${where}`);
  return Number(text);
}

function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([parseValue(le, `le of ${family.name}`), sample.value]);
    } else if (sample.name === `${family.name}_count`) entry.count = sample.value;
    else if (sample.name === `${family.name}_sum`) entry.sum = sample.value;
    else throw new Error(`${family.name}: unexpected sample ${sample.name}`);
  }
  for (const [key, entry] of series) {
    const sorted = [...entry.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) {
      if ((sorted[i]?.[1] ?? 0) < (sorted[i - 1]?.[1] ?? 0))
        throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    const last = sorted.at(-1);
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`${family.name}${key}: no +Inf bucket`);
    if (entry.count !== last[1])
      throw new Error(`${family.name}${key}: +Inf bucket ${last[1]} is not _count ${entry.count}`);
    if (entry.sum === undefined) throw new Error(`${family.name}${key}: no _sum`);
  }
}

/** The value of one sample of `family` whose labels include `labels`; throws if there is none. */
export function sampleValue(
  families: ReadonlyMap<string, Family>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const family = families.get(name.replace(/_(bucket|sum|count)$/, '')) ?? families.get(name);
  const sample = family?.samples.find(
    (candidate) =>
      candidate.name === name &&
      Object.entries(labels).every(([key, value]) => candidate.labels[key] === value),
  );
  if (sample === undefined) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
  return sample.value;
}
