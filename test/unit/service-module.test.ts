// Loading a service module as `--service MODULE` does: by path or package name, with its name and
// version from its `service` export or its file name; and a clear ConfigError for every way a module
// can be wrong, before any replica starts.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../../src/errors.js';
import { isPathSpecifier, loadServiceModule } from '../../src/node/service-module.js';

const counterFixture = fileURLToPath(new URL('../fixtures/counter-service.js', import.meta.url));
const directory = mkdtempSync(path.join(tmpdir(), 'understudy-service-module-'));
after(() => rmSync(directory, { recursive: true, force: true }));

/** A complete state machine, as module source. */
const machine =
  '({ execute: () => ({ result: new Uint8Array(), update: new Uint8Array() }), query: () => new Uint8Array(), apply() {}, snapshot: () => new Uint8Array(), restore() {} })';

function writeModule(name: string, source: string): string {
  const file = path.join(directory, name);
  writeFileSync(file, source);
  return file;
}

describe('a service module that is right', () => {
  test('by path, without a service export: named for its file, version 1', async () => {
    writeModule('plain-service.mjs', `export default () => ${machine};\n`);
    const loaded = await loadServiceModule('./plain-service.mjs', directory);
    assert.deepEqual(loaded.service, { name: 'plain-service', version: 1 });
    assert.equal(loaded.file, path.join(directory, 'plain-service.mjs'));
    assert.equal(typeof loaded.createStateMachine().execute, 'function');
  });

  test('by absolute path and file: URL, with its own service export', async () => {
    for (const specifier of [counterFixture, pathToFileURL(counterFixture).href]) {
      const loaded = await loadServiceModule(specifier, directory);
      assert.deepEqual(loaded.service, { name: 'counter', version: 1 });
    }
  });

  test('by package name, resolved from the given directory, named for the package', async () => {
    const packageDirectory = path.join(directory, 'node_modules', 'acme-locks');
    mkdirSync(packageDirectory, { recursive: true });
    writeFileSync(
      path.join(packageDirectory, 'package.json'),
      JSON.stringify({ name: 'acme-locks', type: 'module', exports: { '.': './main.js' } }),
    );
    writeFileSync(path.join(packageDirectory, 'main.js'), `export default () => ${machine};\n`);
    const loaded = await loadServiceModule('acme-locks', directory);
    assert.deepEqual(loaded.service, { name: 'acme-locks', version: 1 });
    assert.equal(loaded.file, path.join(packageDirectory, 'main.js'));
  });

  test('paths start with ./, ../ or /, or are file: URLs; anything else names a package', () => {
    for (const specifier of ['./a.js', '../a.js', '/a.js', 'file:///a.js'])
      assert.ok(isPathSpecifier(specifier));
    for (const specifier of ['a.js', 'acme-locks', '@acme/locks/service']) {
      assert.ok(!isPathSpecifier(specifier));
    }
  });
});

describe('a service module that is wrong is refused with what to fix', () => {
  const cases: [string, string | null, string, RegExp][] = [
    ['a path with no file', null, './missing.js', /not found: there is no .*missing\.js/],
    ['a package that is not installed', null, 'no-such-service-package', /no package of that name/],
    [
      'a file named without ./',
      'bare.mjs',
      'bare.mjs',
      /there is a file .*bare\.mjs: a path starts with \.\/ \(--service \.\/bare\.mjs\)/,
    ],
    ['a module that throws as it loads', 'throws.mjs', './throws.mjs', /failed to load: boom/],
    [
      'no default export',
      'no-default.mjs',
      './no-default.mjs',
      /has no default export; it must export default a StateMachineFactory/,
    ],
    [
      'a default export that is an object',
      'object.mjs',
      './object.mjs',
      /the default export is an object; it must be a StateMachineFactory/,
    ],
    [
      'a class',
      'class.mjs',
      './class.mjs',
      /the class Lock; export a factory instead: export default \(\) => new Lock\(\)/,
    ],
    [
      'a factory that throws',
      'factory-throws.mjs',
      './factory-throws.mjs',
      /calling its default export threw: no state/,
    ],
    ['a factory that returns a Promise', 'async.mjs', './async.mjs', /returned a Promise/],
    [
      'a factory whose machine lacks methods',
      'partial.mjs',
      './partial.mjs',
      /lacks query, apply, snapshot, restore/,
    ],
    [
      'a service export without a name',
      'unnamed.mjs',
      './unnamed.mjs',
      /bad `service` \("name" must be a non-empty string\)/,
    ],
    [
      'a service export with version 1.5',
      'fraction.mjs',
      './fraction.mjs',
      /bad `service` \("version" must be a positive integer\)/,
    ],
  ];
  const sources: Record<string, string> = {
    'bare.mjs': `export default () => ${machine};\n`,
    'throws.mjs': "throw new Error('boom');\n",
    'no-default.mjs': 'export const service = { name: "x", version: 1 };\n',
    'object.mjs': `export default ${machine};\n`,
    'class.mjs': 'export default class Lock {}\n',
    'factory-throws.mjs': "export default () => { throw new Error('no state'); };\n",
    'async.mjs': `export default async () => ${machine};\n`,
    'partial.mjs': 'export default () => ({ execute() {} });\n',
    'unnamed.mjs': `export const service = { name: '', version: 1 };\nexport default () => ${machine};\n`,
    'fraction.mjs': `export const service = { name: 'x', version: 1.5 };\nexport default () => ${machine};\n`,
  };
  for (const [name, file, specifier, message] of cases) {
    test(name, async () => {
      if (file !== null) writeModule(file, sources[file] ?? '');
      await assert.rejects(loadServiceModule(specifier, directory), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.code, 'BAD_CONFIG');
        assert.match(error.message, message);
        return true;
      });
    });
  }
});
