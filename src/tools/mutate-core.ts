// `npm run mutate -- [--seeds N] [--start S] [--jobs J] [--files a,b] [--only TEXT] [--tests] [--list]`:
// mutation testing of the protocol's core (or of other compiled files: --files) against the
// simulator. Each mutant (mutants.ts) removes or bends one rule of the compiled code; a copy of the
// build holding it runs simulator seeds until one finds a violation, and with --tests one that no
// seed caught runs the unit tests of its family (test/unit/protocol-*.test.ts for the core,
// storage-*.test.ts for storage/..., check-*.test.ts for the checker, client-*.test.ts for the
// client) too. A mutant nothing catches names a rule no fault of the swarm exercises and no test
// pins, or one that does nothing: docs/TESTING.md ("Mutants of the core") records what each
// survivor was found to be.
//
// The copies live in the system's temporary directory, one per job, and are removed at the end.

import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { applyMutant, type Mutant, mutantsOf } from './mutants.js';

const usage = `usage: npm run mutate -- [--seeds N] [--start S] [--jobs J] [--files LIST] [--only TEXT] [--ids FILE] [--tests] [--property-seed P] [--together] [--list]
  --seeds N          simulator seeds a mutant may take before it counts as survived (default 200;
                     0 with --tests: the unit tests alone)
  --start S          the first seed (default 1)
  --jobs J           mutants tried at once, each in a copy of the build (default 2)
  --files LIST       compiled files, relative to dist/src (default the core: ${defaultFilesText()})
  --only TEXT        only mutants whose id contains TEXT (ids: file:line:kind:n)
  --ids FILE         only the mutants whose ids FILE lists (the first word of each line)
  --tests            a mutant no seed catches runs its family's unit tests too: for a file of
                     <folder>/, test/unit/<folder>-*.test.js and the tests on that folder's harness
  --property-seed P  the seed the unit tests' property tests (fast-check) draw their cases from, the
                     same for every mutant and every run, so a sweep repeated gives the same outcome
                     (default 1)
  --together         apply every mutant chosen at once, in one trial (two layers of one rule, say)
  --timeout-seconds T  a mutant still running after T seconds counts as caught: it hung (default: five
                     times what the build took over the same seeds and tests, at least 60)
  --list             print the mutants and run nothing`;

function defaultFiles(): string[] {
  return [
    'protocol/replica.js',
    'protocol/coordinator.js',
    'protocol/view-change.js',
    'protocol/replica-log.js',
    'protocol/sessions.js',
    'protocol/async-loss.js',
  ];
}

function defaultFilesText(): string {
  return defaultFiles().join(',');
}

function fail(message: string): never {
  process.stderr.write(`mutate: ${message}\n${usage}\n`);
  process.exit(2);
}

function count(name: string, text: string | undefined, fallback: number, least: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < least)
    fail(`--${name} must be an integer of at least ${least}, got ${text}`);
  return value;
}

type Outcome =
  | { readonly caught: true; readonly seed: number; readonly violation: string }
  | { readonly caught: false; readonly seeds: number }
  | { readonly caughtByTest: string }
  | { readonly hung: 'the seeds' | 'the unit tests' }
  | { readonly failed: string };

/** The build's root (dist/..): the copies take its dist, bin, package.json and node_modules. */
const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
const distSource = join(packageRoot, 'dist', 'src');

/**
 * A copy of the build to run mutants in: dist and bin (the CLI some tests run) copied,
 * package.json and node_modules beside them.
 */
function makeCopy(): string {
  const copy = mkdtempSync(join(tmpdir(), 'understudy-mutate-'));
  cpSync(join(packageRoot, 'dist'), join(copy, 'dist'), { recursive: true });
  cpSync(join(packageRoot, 'bin'), join(copy, 'bin'), { recursive: true });
  cpSync(join(packageRoot, 'package.json'), join(copy, 'package.json'));
  symlinkSync(join(packageRoot, 'node_modules'), join(copy, 'node_modules'), 'dir');
  return copy;
}

/** Child processes running now, stopped with the copies when the run is interrupted. */
const running = new Set<ChildProcess>();

function track(child: ChildProcess): void {
  running.add(child);
  child.on('close', () => running.delete(child));
}

/**
 * Each child runs in a process group of its own (`detached`), and is stopped with the whole group:
 * `node --test` runs each test file in a process of its own, and killing the runner alone left the
 * file a hung mutant was stuck in running on, an orphan taking a core for hours.
 */
function stop(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // The group is gone already.
  }
}

function trial(copy: string, start: number, seeds: number, timeoutMs: number): Promise<Outcome> {
  if (seeds === 0) return Promise.resolve({ caught: false, seeds: 0 });
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [join(copy, 'dist', 'src', 'tools', 'mutant-seeds.js'), String(start), String(seeds)],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2_000);
    });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      stop(child);
    }, timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      if (hung) return resolve({ hung: 'the seeds' });
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(line) as Outcome);
      } catch {
        resolve({ failed: (stderr.trim().split('\n').slice(-3).join(' | ') || 'no output').slice(0, 300) });
      }
    });
  });
}

/** The harness a family's tests are built on, beside those named for it. */
const familyHarnesses: Readonly<Record<string, string>> = {
  protocol: "from './core-fixtures.js'",
  storage: "from './storage-fixtures.js'",
  check: "from '../../src/check/",
  client: "from './client-fake-cluster.js'",
  // The Redis port's tests beyond `resp-*`: shared sequences, AUTH, the Sentinel port.
  resp: "from '../../src/resp/",
};

/** A family whose tests are named otherwise than its folder: the key/value store's are `kv-*`. */
const familyTestPrefixes: Readonly<Record<string, string>> = { 'state-machine': 'kv' };

/** What a family's unit tests made of a build: null when every one passed. */
type TestsOutcome = { readonly caughtByTest: string } | { readonly hung: 'the unit tests' } | null;

/**
 * Runs the unit tests of the mutated files' families in the copy (for `protocol/...`,
 * `protocol-*.test.js` and the tests built on the core's harness, `format-level.test.js` among them;
 * likewise `storage/`, `check/` and `client/` with `familyHarnesses`; `kv-*.test.js` for
 * `state-machine/`): the first that fails names the outcome; a run stopped at the time limit is told
 * apart from a failure, since it has no exit code.
 */
function unitTests(
  copy: string,
  families: readonly string[],
  propertySeed: number,
  timeoutMs: number,
): Promise<TestsOutcome> {
  const directory = join(copy, 'dist', 'test', 'unit');
  const ofFamily = (name: string, family: string): boolean => {
    if (name.startsWith(`${familyTestPrefixes[family] ?? family}-`)) return true;
    const harness = familyHarnesses[family];
    return harness !== undefined && readFileSync(join(directory, name), 'utf8').includes(harness);
  };
  const files = readdirSync(directory)
    .filter((name) => name.endsWith('.test.js') && families.some((family) => ofFamily(name, family)))
    .map((name) => join(directory, name));
  return new Promise((resolve) => {
    // test/unit/property-seed.ts reads the seed; `node --test` passes --import on to each file's process.
    const seeding = pathToFileURL(join(directory, 'property-seed.js')).href;
    const child = spawn(process.execPath, ['--import', seeding, '--test', '--test-reporter=tap', ...files], {
      stdio: ['ignore', 'pipe', 'ignore'],
      detached: true,
      env: { ...process.env, UNDERSTUDY_PROPERTY_SEED: String(propertySeed) },
    });
    track(child);
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      stop(child);
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (hung) return resolve({ hung: 'the unit tests' });
      const failed = /^\s*not ok \d+ - (.*)$/m.exec(stdout);
      resolve(code === 0 ? null : { caughtByTest: failed?.[1] ?? `exit ${code}` });
    });
  });
}

function describe(outcome: Outcome, testsToo = false): string {
  if ('caughtByTest' in outcome) return `caught by a unit test: ${outcome.caughtByTest}`;
  if ('hung' in outcome)
    return `caught: ${outcome.hung} still running at the time limit (hung, or far slower)`;
  if ('failed' in outcome) return `caught: the run crashed: ${outcome.failed}`;
  if (outcome.caught) return `caught by seed ${outcome.seed}: ${outcome.violation}`;
  return `SURVIVED ${outcome.seeds} seeds${testsToo ? ' and the unit tests' : ''}`;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      options: {
        seeds: { type: 'string' },
        start: { type: 'string' },
        jobs: { type: 'string' },
        files: { type: 'string' },
        only: { type: 'string' },
        ids: { type: 'string' },
        tests: { type: 'boolean' },
        'property-seed': { type: 'string' },
        together: { type: 'boolean' },
        'timeout-seconds': { type: 'string' },
        list: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const text = (name: string) => (typeof values[name] === 'string' ? values[name] : undefined);
  const seeds = count('seeds', text('seeds'), 200, values.tests === true ? 0 : 1);
  const start = count('start', text('start'), 1, 1);
  const jobs = count('jobs', text('jobs'), 2, 1);
  const propertySeed = count('property-seed', text('property-seed'), 1, 0);
  const timeoutText = text('timeout-seconds');
  const givenTimeoutMs =
    timeoutText === undefined ? null : count('timeout-seconds', timeoutText, 60, 1) * 1000;
  const files = text('files')?.split(',') ?? defaultFiles();
  const only = text('only');
  const idsFile = text('ids');
  let ids: Set<string> | null = null;
  if (idsFile !== undefined) {
    try {
      ids = new Set(
        readFileSync(idsFile, 'utf8')
          .split('\n')
          .map((line) => line.trim().split(/\s+/)[0] ?? '')
          .filter((id) => id !== ''),
      );
    } catch (error) {
      fail(`cannot read --ids ${idsFile}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const wanted = (mutant: Mutant) =>
    (only === undefined || mutant.id.includes(only)) && (ids === null || ids.has(mutant.id));

  const sources = new Map<string, string>();
  const mutants: Mutant[] = [];
  for (const file of files) {
    let source: string;
    try {
      source = readFileSync(join(distSource, file), 'utf8');
    } catch {
      fail(
        `no compiled file ${file} under ${relative(process.cwd(), distSource) || '.'} (run npm run build)`,
      );
    }
    sources.set(file, source);
    mutants.push(...mutantsOf(file, source).filter(wanted));
  }
  if (values.list === true) {
    for (const mutant of mutants)
      process.stdout.write(`${mutant.id}  ${oneLine(mutant.before)}  →  ${mutant.after}\n`);
    process.stdout.write(`${mutants.length} mutants\n`);
    return;
  }

  if (mutants.length === 0) fail('no mutant matches --only and --ids');
  // Each trial applies one group: one mutant, or with --together all of them at once.
  const groups = values.together === true ? [mutants] : mutants.map((mutant) => [mutant]);
  const copies = Array.from({ length: Math.min(jobs, groups.length) }, makeCopy);
  const removeCopies = () => {
    for (const copy of copies) rmSync(copy, { recursive: true, force: true });
  };
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      for (const child of running) stop(child);
      removeCopies();
      process.exit(code);
    });
  }
  try {
    const first = copies[0] ?? fail('no copy');
    // The build's own time over the same trial sets the default limit of a mutant's.
    const baselineLimitMs = givenTimeoutMs ?? 3_600_000;
    const began = performance.now();
    const baseline = await trial(first, start, seeds, baselineLimitMs);
    if (!('caught' in baseline) || baseline.caught) {
      fail(`the build itself does not pass seeds ${start}..${start + seeds - 1}: ${describe(baseline)}`);
    }
    const families = [...new Set(files.map((file) => file.split('/')[0] ?? file))];
    const tests =
      values.tests === true ? await unitTests(first, families, propertySeed, baselineLimitMs) : null;
    if (tests !== null) fail(`the build itself does not pass its unit tests: ${describe(tests)}`);
    const timeoutMs = givenTimeoutMs ?? Math.max(60_000, 5 * (performance.now() - began));
    const seedRange = seeds === 0 ? 'no seeds' : `seeds ${start}..${start + seeds - 1}`;
    const testsNamed = families
      .map(
        (family) =>
          `${familyTestPrefixes[family] ?? family}-*${familyHarnesses[family] === undefined ? '' : ' and those on its harness'}`,
      )
      .join(', ');
    const tried =
      values.tests === true
        ? `${seedRange} and the unit tests ${testsNamed} (property tests from fast-check seed ${propertySeed})`
        : seedRange;
    process.stdout.write(
      `${mutants.length} mutants of ${files.join(', ')}; ${values.together === true ? 'all at once are' : 'each is'} tried against ${tried}, which the build passes\n`,
    );
    const survivors: Mutant[][] = [];
    let next = 0;
    let done = 0;
    const work = async (copy: string) => {
      for (let group = groups[next++]; group !== undefined; group = groups[next++]) {
        const files = [...new Set(group.map((mutant) => mutant.file))];
        for (const file of files) {
          // From the end of the file back, so each mutant's offsets still hold.
          const own = group.filter((mutant) => mutant.file === file).sort((a, b) => b.start - a.start);
          const mutated = own.reduce(applyMutant, sources.get(file) ?? '');
          writeFileSync(join(copy, 'dist', 'src', file), mutated);
        }
        let outcome = await trial(copy, start, seeds, timeoutMs);
        if (values.tests === true && 'caught' in outcome && !outcome.caught) {
          outcome = (await unitTests(copy, families, propertySeed, timeoutMs)) ?? outcome;
        }
        for (const file of files) writeFileSync(join(copy, 'dist', 'src', file), sources.get(file) ?? '');
        done += 1;
        if ('caught' in outcome && !outcome.caught) survivors.push(group);
        process.stdout.write(
          `[${done}/${groups.length}] ${group.map(named).join(' + ')}: ${describe(outcome, values.tests === true)}\n`,
        );
      }
    };
    await Promise.all(copies.map(work));
    survivors.sort(([a], [b]) => (a && b ? a.file.localeCompare(b.file) || a.start - b.start : 0));
    process.stdout.write(
      `\n${groups.length - survivors.length} of ${groups.length} trials caught; ${survivors.length} survived:\n`,
    );
    for (const group of survivors) process.stdout.write(`  ${group.map(named).join(' + ')}\n`);
  } finally {
    removeCopies();
  }
}

function named(mutant: Mutant): string {
  return `${mutant.id}  ${oneLine(mutant.before)} → ${mutant.after}`;
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length <= 120 ? line : `${line.slice(0, 117)}...`;
}

await main();
