// A process that is stopped and continued (SIGSTOP, SIGCONT: what a machine pause or a long
// collection looks like from outside) says so: one warning line with how long it stood still, and
// the stall counter and the longest stall on its admin port. A coordinator and one replica on
// 127.0.0.1, stopped by process id; nothing here times the machine, only a stop far above the
// threshold (150 ms) is looked for.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { STALL_MESSAGE } from '../../src/node/stall-watch.js';
import { parsePrometheusText, sampleValue } from '../prometheus-text.js';
import { adminAddressOf, LocalCluster, type RunningProcess, waitFor } from './harness.js';

const admin = ['--admin', '127.0.0.1:0'];
const stoppedMs = 700;
let cluster: LocalCluster;

before(async () => {
  cluster = await LocalCluster.start(1, admin, admin);
});

after(() => cluster.close());

function stallWarnings(running: RunningProcess): Record<string, unknown>[] {
  return running
    .stderr()
    .split('\n')
    .filter((line) => line.includes(STALL_MESSAGE))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function stalls(running: RunningProcess): Promise<{ count: number; longestSeconds: number }> {
  const response = await fetch(`http://${adminAddressOf(running)}/metrics`);
  const families = parsePrometheusText(await response.text());
  return {
    count: sampleValue(families, 'understudy_stalls_total'),
    longestSeconds: sampleValue(families, 'understudy_stall_longest_seconds'),
  };
}

test('a replica and a coordinator that stood still warn once each, with how long, and count it', async () => {
  const replica = cluster.replicas.get('r1');
  const coordinator = cluster.coordinator;
  assert.ok(replica !== undefined && coordinator !== null);
  // A started process may have stalled already (its start competes with the others' on a busy
  // machine): what this stop adds is counted from here.
  const before = { replica: await stalls(replica), coordinator: await stalls(coordinator) };
  const warningsBefore = {
    replica: stallWarnings(replica).length,
    coordinator: stallWarnings(coordinator).length,
  };

  for (const running of [replica, coordinator]) running.child.kill('SIGSTOP');
  await sleep(stoppedMs);
  for (const running of [replica, coordinator]) running.child.kill('SIGCONT');

  for (const [name, running] of [
    ['replica', replica],
    ['coordinator', coordinator],
  ] as const) {
    const warning = await waitFor(`${name}'s stall warning`, () =>
      stallWarnings(running)
        .slice(warningsBefore[name])
        .find((line) => Number(line.stalledMs) >= stoppedMs - 100),
    );
    assert.equal(warning.level, 'warn');
    const after = await stalls(running);
    assert.ok(after.count > before[name].count, `${name}: the counter moved`);
    assert.ok(after.longestSeconds >= (stoppedMs - 100) / 1000, `${name}: longest ${after.longestSeconds} s`);
  }
  // The pause was forgiven: the cluster still answers.
  const client = await cluster.client();
  await client.put('after-the-stall', 'ok');
  assert.equal(await client.getText('after-the-stall'), 'ok');
});
