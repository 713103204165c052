// The shells' snapshot fetcher: a new transfer begins only once the old one's files are deleted.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/node/logger.js';
import { SnapshotFetcher, type SnapshotSink } from '../../src/node/snapshot-transfer.js';
import type { TransferMessage } from '../../src/protocol/messages.js';
import { logIndex, replicaId, type SnapshotInfo, viewNumber } from '../../src/protocol/types.js';

const snapshot = (index: number): SnapshotInfo => ({
  position: { view: viewNumber(1), index: logIndex(index) },
  sizeBytes: 4 * 1024 * 1024,
  checksum: index,
});

test('chaos seed 1: a transfer that replaces another begins only after the old partial files are deleted', async () => {
  const calls: string[] = [];
  let finishAbort: () => void = () => {};
  const sink: SnapshotSink = {
    beginTransfer: (info) => {
      calls.push(`begin ${info.position.index}`);
      return 0;
    },
    writeTransferChunk: async () => {},
    finishTransfer: () => Promise.reject(new Error('not in this test')),
    abortTransfer: () =>
      new Promise<void>((resolve) => {
        calls.push('abort starts');
        finishAbort = () => {
          calls.push('abort ends');
          resolve();
        };
      }),
  };
  const sent: TransferMessage[] = [];
  const fetcher = new SnapshotFetcher(
    sink,
    (_to, message) => sent.push(message),
    () => {},
    () => {},
    createLogger('test'),
  );
  const primary = replicaId('r1');
  fetcher.request(primary, snapshot(10));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls, ['begin 10']);
  // The source no longer keeps it; the primary offers a newer one at once.
  fetcher.onMessage(primary, { type: 'snapshot_gone', snapshot: snapshot(10) });
  fetcher.request(primary, snapshot(20));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls, ['begin 10', 'abort starts'], 'the new transfer waits for the abort');
  finishAbort();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls, ['begin 10', 'abort starts', 'abort ends', 'begin 20']);
  assert.ok(
    sent.some((message) => message.type === 'snapshot_read' && message.snapshot.position.index === 20),
  );
  fetcher.close();
});
