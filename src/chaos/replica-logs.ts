// What the replicas' own logs (logs/NAME.log: one JSON object per line, from every start of the
// process) say about the storage paths a chaos run drives: repaired data directories, snapshots set
// aside as damaged, and snapshot transfers begun, resumed and completed. The faults read the lines
// a replica wrote since its restart; the report sums every replica's whole log.
// A line that is not such a JSON object (a crash mid-write, a stack trace) is skipped, never fatal.

import * as fs from 'node:fs';
import { snapshotWriteFailedMessage } from '../node/replica-server.js';

/** The messages this file looks for, as src/node writes them. */
export const replicaLogMessages = {
  started: 'started',
  repaired: 'data directory repaired',
  snapshotSetAside: 'damaged snapshot set aside',
  receivingSnapshot: 'receiving a snapshot',
  snapshotReceived: 'snapshot received',
  snapshotWriteFailed: snapshotWriteFailedMessage,
} as const;

export interface ReplicaLogLine {
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** The log lines of `file` from byte `fromByte` on (all of them by default); none if it is missing. */
export function readReplicaLog(file: string, fromByte = 0): ReplicaLogLine[] {
  let text: string;
  try {
    const bytes = fs.readFileSync(file);
    text = bytes.subarray(Math.min(fromByte, bytes.length)).toString('utf8');
  } catch {
    return [];
  }
  return parseReplicaLog(text);
}

export function parseReplicaLog(text: string): ReplicaLogLine[] {
  const lines: ReplicaLogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) continue;
    const fields = parsed as Record<string, unknown>;
    if (typeof fields.message !== 'string') continue;
    lines.push({ message: fields.message, fields });
  }
  return lines;
}

/** The size of `file` now, so a later read takes only what comes after (0 if it is missing). */
export function logSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** A snapshot transfer as the learner logged its start. */
export interface TransferStart {
  /** The snapshot's log index. */
  readonly index: number;
  readonly bytes: number;
  /** Bytes already held from an earlier attempt (0: from the start). */
  readonly resumingAt: number;
}

export function transferStarts(lines: readonly ReplicaLogLine[]): TransferStart[] {
  return lines
    .filter((line) => line.message === replicaLogMessages.receivingSnapshot)
    .map(({ fields }) => ({
      index: numberField(fields.index),
      bytes: numberField(fields.bytes),
      resumingAt: numberField(fields.resumingAt),
    }));
}

export interface StorageEvents {
  readonly repairs: number;
  readonly snapshotsSetAside: number;
  readonly transfersStarted: number;
  /** Transfers that began from bytes an earlier attempt left (resumingAt > 0). */
  readonly transfersResumed: number;
  readonly transfersCompleted: number;
}

export const noStorageEvents = (): StorageEvents => ({
  repairs: 0,
  snapshotsSetAside: 0,
  transfersStarted: 0,
  transfersResumed: 0,
  transfersCompleted: 0,
});

export function countStorageEvents(lines: readonly ReplicaLogLine[]): StorageEvents {
  const count = (message: string) => lines.filter((line) => line.message === message).length;
  const starts = transferStarts(lines);
  return {
    repairs: count(replicaLogMessages.repaired),
    snapshotsSetAside: count(replicaLogMessages.snapshotSetAside),
    transfersStarted: starts.length,
    transfersResumed: starts.filter((start) => start.resumingAt > 0).length,
    transfersCompleted: count(replicaLogMessages.snapshotReceived),
  };
}

export function addStorageEvents(a: StorageEvents, b: StorageEvents): StorageEvents {
  return {
    repairs: a.repairs + b.repairs,
    snapshotsSetAside: a.snapshotsSetAside + b.snapshotsSetAside,
    transfersStarted: a.transfersStarted + b.transfersStarted,
    transfersResumed: a.transfersResumed + b.transfersResumed,
    transfersCompleted: a.transfersCompleted + b.transfersCompleted,
  };
}

function numberField(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
