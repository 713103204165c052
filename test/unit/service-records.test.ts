// Where a cluster remembers which service it runs: the coordinator's record (the first replica it
// admits names the service; another is refused with who runs what), a replica's data directory
// (whose data it holds), and refusals thrown by any copy of the package.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { ClusterServiceRecord } from '../../src/node/cluster-service.js';
import { isServiceError, ServiceError } from '../../src/protocol/state-machine.js';
import { replicaId } from '../../src/protocol/types.js';
import { keyValueService } from '../../src/state-machine/index.js';
import { claimDirectoryForService } from '../../src/storage/directory-service.js';

const root = mkdtempSync(path.join(tmpdir(), 'understudy-service-records-'));
after(() => rmSync(root, { recursive: true, force: true }));
let directories = 0;
const freshDirectory = () => path.join(root, `d${++directories}`);

const lock = { name: 'lock', version: 1 };
const lockV2 = { name: 'lock', version: 2 };

describe("the coordinator's record of the cluster's service", () => {
  test('the first replica admitted names it, also for a restarted coordinator; another service is refused', () => {
    const directory = freshDirectory();
    const record = new ClusterServiceRecord(directory);
    assert.equal(record.service, null);
    assert.equal(record.admit(replicaId('r1'), lock), null);
    assert.equal(record.admit(replicaId('r2'), lock), null);
    const restarted = new ClusterServiceRecord(directory);
    assert.deepEqual(restarted.service, lock);
    assert.equal(
      restarted.admit(replicaId('r3'), lockV2),
      'replica r3 runs service "lock" version 2, but this cluster runs "lock" version 1 (replica r1 ran it ' +
        "first): start r3 with the cluster's service, or give it a cluster of its own",
    );
    assert.match(restarted.admit(replicaId('r4'), keyValueService) ?? '', /r4 runs service "understudy-kv"/);
  });

  test('a damaged record stops the coordinator with a ConfigError', () => {
    const directory = freshDirectory();
    mkdirSync(directory, { recursive: true });
    writeFileSync(path.join(directory, 'cluster-service.json'), '{"service":{"name":"lock"}}');
    assert.throws(
      () => new ClusterServiceRecord(directory),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /not a valid record of the cluster's service: "service": "version"/);
        return true;
      },
    );
  });
});

describe('a data directory records whose data it holds', () => {
  test('a new directory takes the service; the same one starts again; another is refused', () => {
    const directory = freshDirectory();
    claimDirectoryForService(directory, lock, keyValueService);
    claimDirectoryForService(directory, lock, keyValueService);
    assert.throws(
      () => claimDirectoryForService(directory, lockV2, keyValueService),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(
          error.message,
          `data directory ${directory} holds the data of service "lock" version 1, but this replica runs ` +
            '"lock" version 2: run that service on it, or give this replica another data directory',
        );
        return true;
      },
    );
  });

  test('a directory used before services were recorded holds the key/value store', () => {
    const directory = freshDirectory();
    mkdirSync(directory, { recursive: true });
    writeFileSync(path.join(directory, 'identity'), '00000000-0000-4000-8000-000000000000\n');
    assert.throws(
      () => claimDirectoryForService(directory, lock, keyValueService),
      /holds the data of service "understudy-kv"/,
    );
    claimDirectoryForService(directory, keyValueService, keyValueService);
    assert.throws(() => claimDirectoryForService(directory, lock, keyValueService), /"understudy-kv"/);
  });

  test('a damaged record is a ConfigError, never a guess', () => {
    const directory = freshDirectory();
    mkdirSync(directory, { recursive: true });
    writeFileSync(path.join(directory, 'service.json'), 'not json');
    assert.throws(() => claimDirectoryForService(directory, lock, keyValueService), /is not JSON/);
  });
});

test('a refusal thrown by another copy of the package is still a refusal, and nothing else is', () => {
  assert.ok(isServiceError(new ServiceError('LOCK_HELD', 'held')));
  // What a ServiceError of another copy of understudy looks like: its own class, the shared mark.
  const otherCopy = Object.assign(new Error('held'), {
    code: 'LOCK_HELD',
    [Symbol.for('understudy.ServiceError')]: true,
  });
  assert.ok(isServiceError(otherCopy));
  assert.ok(!isServiceError(new Error('a bug')));
  assert.ok(!isServiceError({ code: 'LOCK_HELD', message: 'not an Error' }));
});
