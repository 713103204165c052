// Every replica must commit by the coordinator's rules: one started with another --sync-quorum (or
// --lag-policy) than the coordinator's would commit at fewer backups than the coordinator's promotions
// assume, and a failover could then promote a backup that misses a commit. The coordinator refuses
// such a replica at the handshake, saying what differs; one of the same rules is admitted.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { defaultNodeConfig } from '../../src/node/config.js';
import { CoordinatorServer } from '../../src/node/coordinator-server.js';
import { createLogger } from '../../src/node/logger.js';
import { type CommitRules, commitRulesOf, defaultProtocolConfig } from '../../src/protocol/config.js';
import type { Hello } from '../../src/protocol/messages.js';
import { replicaId } from '../../src/protocol/types.js';
import { keyValueService } from '../../src/state-machine/index.js';
import { dial, PROTOCOL_VERSION } from '../../src/transport/index.js';

const helloWith = (rules: CommitRules): Hello => ({
  type: 'hello',
  clusterId: 'understudy',
  protocolVersion: PROTOCOL_VERSION,
  peer: { kind: 'replica', id: replicaId('r2'), service: keyValueService, rules },
});

test('the coordinator admits only replicas that commit by its own rules', async () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-commit-rules-'));
  const protocol = { ...defaultProtocolConfig, syncQuorum: 1 };
  const coordinator = await CoordinatorServer.start({
    listen: '127.0.0.1:0',
    directory,
    newCluster: true,
    config: { ...defaultNodeConfig, protocol },
    logger: createLogger({ level: 'silent' }),
  });
  try {
    await assert.rejects(dial(coordinator.address, helloWith(commitRulesOf(defaultProtocolConfig))), {
      name: 'HandshakeError',
      message:
        /replica r2 commits at every backup, the coordinator at --sync-quorum 1: start the coordinator and every replica with the same --sync-quorum and --lag-policy/,
    });
    await assert.rejects(dial(coordinator.address, helloWith({ syncQuorum: 1, lagPolicy: 'eject' })), {
      name: 'HandshakeError',
      message: /replica r2 runs --lag-policy eject, the coordinator demote/,
    });
    const admitted = await dial(coordinator.address, helloWith(commitRulesOf(protocol)));
    admitted.close();
  } finally {
    await coordinator.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
