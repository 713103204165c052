// --failure-timeout-ms on real processes: a cluster told to wait 4 s before it judges a silent replica
// rides out a 1.5 s stop of its primary (SIGSTOP: what a long collection, a large store's Map growing
// or a paused virtual machine looks like from outside) with no view change, where the default 600 ms
// would have replaced it; and it replaces a killed primary only once those 4 s have passed. Only a
// lower bound on the failover is asserted: the coordinator cannot judge sooner, however slow the
// machine.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster } from './harness.js';

const failureTimeoutMs = 4000;
/** The primary's last heartbeat may have left up to this long before it stopped. */
const heartbeatIntervalMs = 100;
const settings = ['--failure-timeout-ms', String(failureTimeoutMs)];
let cluster: LocalCluster;

before(async () => {
  cluster = await LocalCluster.start(3, settings, settings);
});

after(() => cluster.close());

test('a primary stopped for 1.5 s keeps its place, and the writes after it go through', async () => {
  const client = await cluster.client();
  await client.put('k', 'before the stop');
  const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
  const primary = cluster.replicas.get(view.primary);
  assert(primary !== undefined);
  primary.child.kill('SIGSTOP');
  await sleep(1500);
  primary.child.kill('SIGCONT');
  await client.put('k', 'after the stop');
  assert.equal(await client.getText('k'), 'after the stop');
  const after = await cluster.waitForView(() => true);
  assert.equal(after.number, view.number, 'the view did not change');
  assert.equal(after.primary, view.primary);
});

test('a killed primary is replaced, but not before the failure timeout has passed', async () => {
  const client = await cluster.client();
  const view = await cluster.waitForView((candidate) => candidate.backups.length === 2);
  await cluster.kill(view.primary);
  const killedAtMs = performance.now();
  const next = await cluster.waitForView((candidate) => candidate.primary !== view.primary);
  const replacedAfterMs = performance.now() - killedAtMs;
  assert(
    replacedAfterMs >= failureTimeoutMs - heartbeatIntervalMs,
    `replaced after ${Math.round(replacedAfterMs)} ms, before the ${failureTimeoutMs} ms timeout`,
  );
  await client.put('k', `written in view ${next.number}`);
  assert.equal(await client.getText('k'), `written in view ${next.number}`);
});
