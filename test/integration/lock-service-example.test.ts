// The lock-service example (examples/lock-service/) is a package of its own, on understudy's public
// API only: it imports `understudy` by name, through its `file:../..` dependency. This runs what its
// README says against this checkout, so `npm test` here covers it from a clean clone: it links the
// example's node_modules/understudy to this repository (what `npm install` does for that dependency,
// without the network; an existing link or install is left as it is), compiles the example with this
// repository's TypeScript — which also proves it builds against the published types — and runs its
// tests: the service, the lease check, the simulator over seeds, and kill -9 of the primary.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repository = fileURLToPath(new URL('../../../', import.meta.url));
const example = path.join(repository, 'examples', 'lock-service');
/** How much of a failed run's output the failure shows. */
const outputTailBytes = 8_000;

function run(args: readonly string[], cwd: string): Promise<{ code: number | null; output: string }> {
  // Without the variable the runner sets for its own test files: a `node --test` that finds it
  // reports to a parent runner instead of running its files as a run of its own.
  const { NODE_TEST_CONTEXT: _runnerContext, ...env } = process.env;
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

/** What `npm install` makes of `"understudy": "file:../.."`: a link to this repository. */
function linkUnderstudy(): void {
  const link = path.join(example, 'node_modules', 'understudy');
  if (existsSync(link) || isDanglingLink(link)) return;
  mkdirSync(path.dirname(link), { recursive: true });
  symlinkSync(path.relative(path.dirname(link), repository), link, 'dir');
}

function isDanglingLink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

test('the lock-service example builds against this package and its tests pass', async (t) => {
  const manifest = JSON.parse(readFileSync(path.join(example, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  assert.equal(manifest.dependencies.understudy, 'file:../..', 'the example depends on this repository');
  linkUnderstudy();
  const tsc = path.join(
    path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')),
    'bin',
    'tsc',
  );
  const build = await run([tsc, '-p', 'tsconfig.json'], example);
  assert.equal(build.code, 0, `the example does not build:\n${build.output.slice(-outputTailBytes)}`);
  const tests = await run(['--test', '--test-timeout=120000', 'dist/test/'], example);
  assert.equal(tests.code, 0, `the example's tests failed:\n${tests.output.slice(-outputTailBytes)}`);
  for (const line of tests.output.split('\n')) {
    if (/^# (tests|pass|fail|\d+ grants)/.test(line)) t.diagnostic(`example: ${line.slice(2)}`);
  }
});
