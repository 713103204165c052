// Usage errors of the coordinator's homes and of coordinator lists (the coordinator on etcd): a bad
// combination or list exits 2 with a message that says what to give. In a file of its own, run at
// once, so it adds no time to the long CLI usage file.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../../bin/understudy.js', import.meta.url));

function run(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 20_000 }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stderr });
    });
  });
}

const usageErrors: [readonly string[], RegExp][] = [
  [['coordinator', '--listen', '127.0.0.1:0'], /give --dir .* or --etcd .*, exactly one of them/],
  [
    ['coordinator', '--listen', '127.0.0.1:0', '--dir', 'd', '--etcd', 'http://127.0.0.1:2379'],
    /give --dir .* or --etcd .*, exactly one of them/,
  ],
  [
    ['coordinator', '--listen', '127.0.0.1:0', '--etcd', '127.0.0.1:2379'],
    /--etcd needs URLs like http:\/\/host:2379/,
  ],
  [['status', '--coordinator', '127.0.0.1:7000,,127.0.0.1:7001'], /--coordinator needs host:port addresses/],
  [
    [
      'replica',
      '--id',
      'r1',
      '--listen',
      '127.0.0.1:0',
      '--dir',
      'd',
      '--coordinator',
      '127.0.0.1:7000,nope',
    ],
    /--coordinator/,
  ],
];

test('the coordinator takes --dir or --etcd, and coordinator lists are checked: bad usage exits 2', async () => {
  const results = await Promise.all(usageErrors.map(([args]) => run(args)));
  for (const [index, [args, message]] of usageErrors.entries()) {
    const result = results[index];
    assert.ok(result !== undefined);
    assert.equal(result.code, 2, `understudy ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message, `understudy ${args.join(' ')}`);
  }
});
