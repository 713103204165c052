// Logs and configuration with real processes on 127.0.0.1 (ports chosen by the OS, processes stopped
// by id): a failover is told by exactly one `failover` line with its reason, each view by exactly one
// `view change` line, the dead primary's removal and its return as a backup by one line each, all in
// the coordinator's log only; --log-level (or UNDERSTUDY_LOG_LEVEL) filters what is written; and the
// example config file in examples/config/ runs a cluster, its addresses overridden by flags.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseReplicaLog, type ReplicaLogLine } from '../../src/chaos/replica-logs.js';
import { Client } from '../../src/client/index.js';
import { viewLogMessages } from '../../src/node/view-log.js';
import { LocalCluster, type RunningProcess, runCli, startProcess, stop, waitFor } from './harness.js';

const example = fileURLToPath(new URL('../../../examples/config/cluster.yaml', import.meta.url));

const linesOf = (running: RunningProcess | null): ReplicaLogLine[] =>
  running === null ? [] : parseReplicaLog(running.stderr());

const withMessage = (lines: readonly ReplicaLogLine[], message: string) =>
  lines.filter((line) => line.message === message);

describe('logs', { concurrency: false }, () => {
  test('a failover: one failover line with its reason, one line per view, the removal and the rejoin', async () => {
    const cluster = await LocalCluster.start(3);
    try {
      const first = await cluster.waitForView((view) => view.backups.length === 2);
      const old = first.primary;
      await cluster.kill(old);
      const second = await cluster.waitForView((view) => view.primary !== old && view.number > first.number);
      const failover = await waitFor('the failover line', () => {
        const lines = withMessage(linesOf(cluster.coordinator), viewLogMessages.failover);
        return lines.length > 0 ? lines : undefined;
      });
      assert.equal(failover.length, 1, 'exactly one failover line');
      const fields = failover[0]?.fields ?? {};
      assert.deepEqual(
        [fields.level, fields.view, fields.from, fields.to],
        ['warn', second.number, old, second.primary],
      );
      assert.match(
        String(fields.reason),
        new RegExp(`^primary ${old} failed: no heartbeat for \\d+ ms; ${second.primary} leads$`),
      );

      const removed = withMessage(linesOf(cluster.coordinator), viewLogMessages.removed);
      assert.deepEqual(
        removed.map(({ fields }) => [fields.replica, fields.view, fields.was]),
        [[old, second.number, 'primary']],
      );
      assert.match(String(removed[0]?.fields.reason), /^no heartbeat for \d+ ms$/);

      // Back from its disk: a learner first, then a backup again, told once.
      await cluster.startReplica(old);
      const back = await cluster.waitForView((view) => view.backups.includes(old));
      // (The first backups of the cluster joined this way too, before the failover.)
      const rejoined = await waitFor('the rejoin line', () => {
        const lines = withMessage(linesOf(cluster.coordinator), viewLogMessages.rejoined).filter(
          (line) => Number(line.fields.view) > second.number,
        );
        return lines.some((line) => line.fields.view === back.number) ? lines : undefined;
      });
      assert.deepEqual(
        rejoined.map(({ fields }) => [fields.replica, fields.was, fields.reason]),
        [[old, 'learner', 'the primary reported that it holds every entry: caught up']],
      );

      // Every view, each told once, by the coordinator alone; nothing below info at the default level.
      const coordinatorLines = linesOf(cluster.coordinator);
      const changes = withMessage(coordinatorLines, viewLogMessages.viewChange).map(
        ({ fields }) => fields.view,
      );
      assert.deepEqual(
        changes,
        Array.from({ length: back.number }, (_, k) => k + 1),
      );
      const causes = withMessage(coordinatorLines, viewLogMessages.viewChange).map(
        ({ fields }) => fields.cause,
      );
      assert.equal(causes[0], 'formed');
      assert.equal(causes[second.number - 1], 'failover');
      for (const running of [cluster.coordinator, ...cluster.replicas.values()]) {
        const lines = linesOf(running);
        assert.ok(lines.every(({ fields }) => fields.level !== 'debug' && fields.level !== 'trace'));
        if (running === cluster.coordinator) continue;
        for (const message of Object.values(viewLogMessages))
          assert.deepEqual(withMessage(lines, message), []);
      }
    } finally {
      await cluster.close();
    }
  });

  test('--log-level filters: warn keeps the removal and drops the view change; debug shows each view a replica adopts; silent writes nothing', async () => {
    const cluster = await LocalCluster.start(2, ['--log-level', 'debug'], ['--log-level', 'warn']);
    try {
      const view = await cluster.waitForView((candidate) => candidate.backups.length === 1);
      // Started without the cluster's --log-level flag: the variable alone sets its level.
      const quiet = await startProcess(
        [
          'replica',
          '--id',
          'r3',
          '--listen',
          '127.0.0.1:0',
          '--coordinator',
          cluster.coordinatorAddress,
          '--dir',
          cluster.replicaDirectory('r3'),
        ],
        { UNDERSTUDY_LOG_LEVEL: 'silent' },
      );
      cluster.replicas.set('r3', quiet);
      await cluster.waitForView((candidate) => candidate.backups.includes('r3'));
      const backup = view.backups[0] ?? '';
      await cluster.kill(backup);
      const removed = await waitFor('the removal line', () => {
        const lines = withMessage(linesOf(cluster.coordinator), viewLogMessages.removed);
        return lines.length > 0 ? lines : undefined;
      });
      assert.equal(removed[0]?.fields.replica, backup);
      const coordinatorLines = linesOf(cluster.coordinator);
      assert.deepEqual(
        withMessage(coordinatorLines, viewLogMessages.viewChange),
        [],
        'info lines are dropped',
      );
      assert.ok(
        coordinatorLines.every(({ fields }) => ['warn', 'error', 'fatal'].includes(String(fields.level))),
      );

      const primaryLines = linesOf(cluster.replicas.get(view.primary) ?? null);
      const adopted = withMessage(primaryLines, 'adopted a view');
      assert.ok(adopted.length > 0, 'debug lines are written at debug');
      assert.ok(adopted.every(({ fields }) => fields.level === 'debug'));
      assert.equal(quiet.stderr(), '', 'UNDERSTUDY_LOG_LEVEL=silent: not a line');
    } finally {
      await cluster.close();
    }
  });
});

describe('configuration', () => {
  test('the example config file runs a cluster, flags overriding its addresses and directories', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'understudy-config-'));
    const started: RunningProcess[] = [];
    try {
      const coordinator = await startProcess([
        'coordinator',
        '--config',
        example,
        '--listen',
        '127.0.0.1:0',
        '--dir',
        path.join(directory, 'coordinator'),
        '--admin',
        '0',
        '--new-cluster',
      ]);
      started.push(coordinator);
      for (const id of ['r1', 'r2']) {
        started.push(
          await startProcess(
            ['replica', '--config', example, '--listen', '127.0.0.1:0', '--admin', '0'],
            // The per-machine settings as variables, as the example shows.
            {
              UNDERSTUDY_ID: id,
              UNDERSTUDY_COORDINATOR: coordinator.address,
              UNDERSTUDY_DIR: path.join(directory, id),
            },
          ),
        );
      }
      // The file's cluster id: a client of the default cluster would be refused.
      const client = await Client.connect({
        coordinator: coordinator.address,
        clusterId: 'orders',
        deadlineMs: 20_000,
      });
      try {
        await waitFor('a view of both replicas', async () => {
          const status = await client.status();
          return status.view?.backups.length === 1 ? true : undefined;
        });
        await client.put('configured', 'from a file');
        assert.equal(await client.getText('configured'), 'from a file');
      } finally {
        await client.close();
      }
      const formed = withMessage(linesOf(coordinator), viewLogMessages.viewChange)[0];
      assert.equal(formed?.fields.cause, 'formed');
    } finally {
      for (const running of started) await stop(running);
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('a coordinator whose state file is damaged says so and exits 2, instead of running with nothing listening', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'understudy-bad-state-'));
    try {
      writeFileSync(path.join(directory, 'coordinator-state.json'), 'garbage{\n');
      const result = await runCli(['coordinator', '--listen', '127.0.0.1:0', '--dir', directory]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /coordinator-state\.json is not a valid coordinator state/);
      assert.doesNotMatch(result.stdout, /listening on/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
