// The chaos run's Sentinel subscriber (chaos/sentinel-watch.ts): every message the Sentinel port may
// publish reads as fine when it names Redis ports of the run under the cluster's name, and any other
// address, name or shape is named as the problem that fails the run.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sentinelMessageProblem } from '../../src/chaos/sentinel-watch.js';

const run = new Set(['127.0.0.1:6379', '127.0.0.1:6380', '[::1]:6381']);
const problem = (channel: string, payload: string) =>
  sentinelMessageProblem(channel, payload, 'understudy', (address) => run.has(address));

test("Sentinel messages that name the run's Redis ports under the cluster's name pass", () => {
  for (const [channel, payload] of [
    ['+switch-master', 'understudy 127.0.0.1 6379 127.0.0.1 6380'],
    ['+sdown', 'master understudy 127.0.0.1 6379'],
    ['+odown', 'master understudy 127.0.0.1 6379 #quorum 1/1'],
    ['+failover-end', 'master understudy 127.0.0.1 6379'],
    ['+slave', 'slave 127.0.0.1:6380 127.0.0.1 6380 @ understudy 127.0.0.1 6379'],
    ['+sdown', 'slave 127.0.0.1:6380 127.0.0.1 6380 @ understudy 127.0.0.1 6379'],
    ['-sdown', 'slave [::1]:6381 ::1 6381 @ understudy 127.0.0.1 6379'],
  ] as const) {
    assert.equal(problem(channel, payload), null, `${channel} ${payload}`);
  }
});

test('any other address, name or shape is the problem', () => {
  const cases: readonly [string, string, RegExp][] = [
    [
      '+switch-master',
      'understudy 127.0.0.1 6379 127.0.0.1 7380',
      /the new master 127\.0\.0\.1:7380 is not a Redis port of the run/,
    ],
    ['+switch-master', 'other 127.0.0.1 6379 127.0.0.1 6380', /not <name>/],
    ['+switch-master', 'understudy 127.0.0.1 6379 127.0.0.1', /not <name>/],
    ['+sdown', 'master understudy 127.0.0.1 1', /the master 127\.0\.0\.1:1 is not a Redis port/],
    ['+odown', 'master understudy 127.0.0.1 6379', /#quorum 1\/1/],
    ['+slave', 'slave 127.0.0.1:6380 127.0.0.1 6380 @ understudy 127.0.0.1 9', /the master 127\.0\.0\.1:9/],
    ['+slave', 'slave 127.0.0.1:6379 127.0.0.1 6380 @ understudy 127.0.0.1 6379', /not slave/],
    ['+slave', 'slave 127.0.0.1:x 127.0.0.1 x @ understudy 127.0.0.1 6379', /not slave|not an address/],
    ['-odown', 'master understudy 127.0.0.1 6379', /no event the Sentinel port publishes/],
    ['+sentinel', 'sentinel abc 127.0.0.1 26379 @ understudy 127.0.0.1 6379', /no event/],
  ];
  for (const [channel, payload, expected] of cases) {
    assert.match(problem(channel, payload) ?? 'passed', expected, `${channel} ${payload}`);
  }
});
