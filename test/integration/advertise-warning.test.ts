// A replica listening on every interface without --advertise would have the coordinator list an
// address (0.0.0.0:PORT) that only its own machine can dial: it says so at start.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CoordinatorServer } from '../../src/node/coordinator-server.js';
import { createLogger } from '../../src/node/logger.js';
import { ReplicaServer } from '../../src/node/replica-server.js';

test('a replica on 0.0.0.0 warns unless it advertises an address other machines can dial', async () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'understudy-advertise-'));
  const coordinator = await CoordinatorServer.start({
    listen: '127.0.0.1:0',
    directory: path.join(directory, 'c'),
    newCluster: true,
    logger: createLogger({ level: 'silent' }),
  });
  const warningsOf = async (id: string, advertise: boolean): Promise<string[]> => {
    const warnings: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line) => warnings.push(line) } });
    const replica = await ReplicaServer.start({
      id,
      listen: '0.0.0.0:0',
      coordinator: coordinator.address,
      directory: path.join(directory, id),
      logger,
      ...(advertise ? { advertise: '127.0.0.1:9' } : {}),
    });
    await replica.close();
    return warnings.filter((line) => line.includes('--advertise'));
  };
  try {
    const unadvertised = await warningsOf('r1', false);
    assert.equal(unadvertised.length, 1, 'one warning');
    assert.match(unadvertised[0] ?? '', /"address":"0\.0\.0\.0:\d+"/);
    assert.deepEqual(await warningsOf('r2', true), [], 'an advertised address needs no warning');
  } finally {
    await coordinator.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
