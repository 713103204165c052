// State transfer between the shells of two replicas: the core offers a snapshot and installs it; the
// bytes of the snapshot file travel here, chunk by chunk, each with its crc32.
//
// - The learner pulls (SnapshotFetcher): a few chunk requests in flight, each chunk written to a
//   partial file before more are asked for, so a transfer cut off by a crash or a kill resumes where
//   the partial file ends (the store keeps it across restarts) instead of starting over.
// - The source serves (SnapshotServer) from its kept snapshot files, paced by a token bucket
//   (`transferBytesPerSecond`), so a transfer cannot starve the write path of disk or network.
// - A lost request or chunk is noticed by silence: the learner asks again from what it holds.
// - A chunk whose checksum fails is asked for again; a whole file whose checksum fails is dropped
//   by the store and the transfer starts over.

import { crc32 } from 'node:zlib';
import type {
  SnapshotChunk,
  SnapshotGone,
  SnapshotRead,
  TransferMessage,
  TransferProgress,
} from '../protocol/messages.js';
import type { StoredSnapshot } from '../protocol/replica.js';
import { type ReplicaId, type SnapshotInfo, sameSnapshot } from '../protocol/types.js';
import { errorText, type Logger } from './logger.js';

/** Bytes per chunk: one frame, well under the frame limit. */
export const transferChunkBytesDefault = 1024 * 1024;
/** Chunk requests a learner keeps in flight. */
const chunksInFlightMax = 4;
/** A transfer that received nothing for this long asks again from what it holds. */
const stallMs = 3000;
/**
 * After a transfer found no room for itself, offers are ignored this long (they come at every
 * tick): each would be refused again, with a warning.
 */
export const noRoomRetryMs = 5000;
/** Reads a source queues, of learners and of saves each; more are dropped (the reader asks again). */
const queuedReadsMax = 64;
/**
 * A save's read that waited this long is dropped unserved: its client asked again by then (after 30 s
 * without the chunk), or gave up; serving it would spend the pace on bytes no one reads.
 */
export const saveReadWaitMaxMs = 30_000;

/** Where a source reads snapshot files from. */
export interface SnapshotSource {
  has(info: SnapshotInfo): boolean;
  readChunk(info: SnapshotInfo, offset: number, length: number): Promise<Uint8Array>;
}

/** Where a learner writes the snapshot it receives (kept across restarts until finished). */
export interface SnapshotSink {
  /** Where to resume: the bytes of this snapshot already held (0 for a new transfer). */
  beginTransfer(info: SnapshotInfo): number;
  /** Rejects (NoRoomError) if the file system has no room for `bytes` more: the transfer is not tried. */
  ensureRoomToReceive(bytes: number): Promise<void>;
  writeTransferChunk(offset: number, bytes: Uint8Array): Promise<void>;
  /** Verifies the whole file and keeps it as the newest snapshot; rejects if it does not verify. */
  finishTransfer(): Promise<StoredSnapshot>;
  /** Deletes the partial files; a transfer begins only once this has finished. */
  abortTransfer(): Promise<void>;
}

type Send = (to: ReplicaId, message: TransferMessage) => void;

/**
 * Who a source serves: a learner (a replica, by id), or a client saving a snapshot (`understudy
 * snapshot save`), answered on its own connection under its call's id.
 */
export type TransferDestination =
  | { readonly kind: 'learner'; readonly id: ReplicaId }
  | {
      readonly kind: 'save';
      /** Who asks (its connection): a read it asks again while the first still waits is dropped. */
      readonly asker: object;
      readonly reply: (message: SnapshotChunk | SnapshotGone) => void;
    };

interface QueuedRead {
  readonly to: TransferDestination;
  readonly read: SnapshotRead;
  readonly queuedAtMs: number;
}

export class SnapshotServer {
  /**
   * The reads waiting, learners' apart from saves': a learner's go first. A learner gives the cluster
   * back a replica; a save is a copy, and under --transfer-rate the saves' reads (four in flight
   * each, asked again by every attempt) held a learner at 0 bytes for a minute (chaos at 512 KiB/s).
   */
  private readonly queues: Record<TransferDestination['kind'], QueuedRead[]> = { learner: [], save: [] };
  /** The snapshot each learner was last sent, so that a transfer is logged at its start, not per chunk. */
  private readonly announced = new Map<ReplicaId, SnapshotInfo>();
  private serving = false;
  /** When the token bucket next allows a byte out (performance.now() ms). */
  private availableAtMs = 0;
  private closed = false;

  constructor(
    private readonly source: SnapshotSource,
    private readonly send: Send,
    /** 0: unlimited. */
    private readonly bytesPerSecond: number,
    private readonly logger: Logger,
    private readonly chunkBytesMax = transferChunkBytesDefault,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Serves `read`; learners and saves share one pace (`--transfer-rate`), learners first. */
  onRead(from: TransferDestination, read: SnapshotRead): void {
    const queue = this.queues[from.kind];
    if (this.closed || queue.length >= queuedReadsMax) return;
    // A read asked again while the first waits (a learner's stall timer, a save's retry): one is
    // enough. Paced below a chunk per stall interval, the copies filled the queue, each served.
    if (queue.some((queued) => sameReader(queued.to, from) && sameRead(queued.read, read))) return;
    queue.push({ to: from, read, queuedAtMs: this.clock() });
    if (!this.serving) void this.serve();
  }

  close(): void {
    this.closed = true;
    this.queues.learner.length = 0;
    this.queues.save.length = 0;
  }

  private next(): QueuedRead | undefined {
    const learner = this.queues.learner.shift();
    if (learner !== undefined) return learner;
    const oldestKept = this.clock() - saveReadWaitMaxMs;
    let save = this.queues.save.shift();
    while (save !== undefined && save.queuedAtMs < oldestKept) save = this.queues.save.shift();
    return save;
  }

  private async serve(): Promise<void> {
    this.serving = true;
    try {
      for (let next = this.next(); next !== undefined && !this.closed; next = this.next()) {
        await this.answer(next.to, next.read);
      }
    } finally {
      this.serving = false;
    }
  }

  private async answer(to: TransferDestination, read: SnapshotRead): Promise<void> {
    const { snapshot } = read;
    if (!this.source.has(snapshot)) {
      this.deliver(to, { type: 'snapshot_gone', snapshot });
      return;
    }
    this.announce(to, read);
    const length = Math.max(0, Math.min(read.length, this.chunkBytesMax, snapshot.sizeBytes - read.offset));
    await this.pace(length);
    let bytes: Uint8Array;
    try {
      bytes = await this.source.readChunk(snapshot, read.offset, length);
    } catch {
      this.deliver(to, { type: 'snapshot_gone', snapshot });
      return;
    }
    const chunk: SnapshotChunk = {
      type: 'snapshot_chunk',
      snapshot,
      offset: read.offset,
      bytes,
      checksum: crc32(bytes),
    };
    this.deliver(to, chunk);
  }

  private deliver(to: TransferDestination, message: SnapshotChunk | SnapshotGone): void {
    if (to.kind === 'learner') this.send(to.id, message);
    else to.reply(message);
  }

  /** Learners only: a save is logged once, when the primary names its snapshot (snapshot-saves.ts). */
  private announce(to: TransferDestination, read: SnapshotRead): void {
    if (to.kind !== 'learner') return;
    const announced = this.announced.get(to.id);
    if (announced !== undefined && sameSnapshot(announced, read.snapshot)) return;
    this.announced.set(to.id, read.snapshot);
    const { snapshot } = read;
    this.logger.info(
      {
        to: to.id,
        index: snapshot.position.index,
        bytes: snapshot.sizeBytes,
        fromOffset: read.offset,
        reason: `${to.id} lacks log entries this replica no longer keeps: they are in this snapshot`,
      },
      'sending a snapshot',
    );
  }

  private async pace(bytes: number): Promise<void> {
    if (this.bytesPerSecond <= 0) return;
    const now = performance.now();
    const startMs = Math.max(now, this.availableAtMs);
    this.availableAtMs = startMs + (bytes / this.bytesPerSecond) * 1000;
    if (startMs > now) await new Promise((resolve) => setTimeout(resolve, startMs - now));
  }
}

interface Transfer {
  from: ReplicaId;
  readonly snapshot: SnapshotInfo;
  /** Bytes held in the partial file. */
  held: number;
  /** The next offset to ask for. */
  next: number;
  inFlight: number;
  readonly startedHeld: number;
  readonly startedAtMs: number;
  lastChunkAtMs: number;
  /** Writes happen one after another, in offset order. */
  /** Bytes received and being written, not yet in the partial file. */
  queued: number;
  writing: Promise<void>;
  finishing: boolean;
  /** Until the file system was found to have room for the rest, nothing is asked for. */
  roomFound: boolean;
}

export class SnapshotFetcher {
  private current: Transfer | null = null;
  /**
   * Deleting the old partial files runs before a new transfer begins: an abort still under way
   * deleted the new transfer's files once (found by chaos), so it failed and could not resume.
   */
  private aborting: Promise<void> = Promise.resolve();
  private starting = false;
  private closed = false;
  /** When offers are taken again after a transfer found no room (performance.now). */
  private noRoomUntilMs = 0;
  private readonly stallTimer: NodeJS.Timeout;

  constructor(
    private readonly sink: SnapshotSink,
    private readonly send: Send,
    private readonly onInstall: (snapshot: StoredSnapshot) => void,
    private readonly onProgress: (progress: TransferProgress | null) => void,
    private readonly logger: Logger,
    private readonly chunkBytes = transferChunkBytesDefault,
    private readonly noRoomPauseMs = noRoomRetryMs,
  ) {
    this.stallTimer = setInterval(() => this.askAgainIfStalled(), stallMs / 3);
    this.stallTimer.unref();
  }

  /** The core asks for this snapshot (it is offered again and again until installed). */
  request(from: ReplicaId, snapshot: SnapshotInfo): void {
    const current = this.current;
    if (current !== null && sameSnapshot(current.snapshot, snapshot)) {
      current.from = from;
      return;
    }
    // Keep going with a transfer that is making progress; the newer offer comes again.
    if (this.starting || (current !== null && performance.now() - current.lastChunkAtMs < stallMs)) return;
    if (current === null && performance.now() < this.noRoomUntilMs) return;
    if (current !== null) this.abort();
    this.starting = true;
    const begin = () => {
      this.starting = false;
      if (!this.closed) this.start(from, snapshot);
    };
    void this.aborting.then(begin, begin);
  }

  private start(from: ReplicaId, snapshot: SnapshotInfo): void {
    let held: number;
    try {
      held = this.sink.beginTransfer(snapshot);
    } catch (error) {
      // Its first write failed (a full disk): like a write later on, the replica stays as it was and
      // the next offer tries again. Thrown from here it was an unhandled rejection that stopped the process.
      this.logger.warn(
        { error: errorText(error) },
        'snapshot transfer failed; starting over at the next offer',
      );
      this.abort();
      return;
    }
    const now = performance.now();
    const transfer: Transfer = {
      from,
      snapshot,
      held,
      next: held,
      inFlight: 0,
      startedHeld: held,
      startedAtMs: now,
      lastChunkAtMs: now,
      queued: 0,
      writing: Promise.resolve(),
      finishing: false,
      roomFound: held >= snapshot.sizeBytes,
    };
    this.current = transfer;
    const reason =
      `the primary no longer keeps the log entries this replica lacks: they are in its snapshot at index ${snapshot.position.index}` +
      (held > 0 ? `; resuming where an earlier attempt stopped, ${held} bytes in` : '');
    this.logger.info(
      { from, index: snapshot.position.index, bytes: snapshot.sizeBytes, resumingAt: held, reason },
      'receiving a snapshot',
    );
    this.report();
    if (transfer.roomFound) {
      this.finish(transfer);
      return;
    }
    this.sink.ensureRoomToReceive(snapshot.sizeBytes - held).then(
      () => {
        if (this.current !== transfer) return;
        transfer.roomFound = true;
        transfer.lastChunkAtMs = performance.now();
        this.askMore(transfer);
      },
      (error: unknown) => {
        this.noRoomUntilMs = performance.now() + this.noRoomPauseMs;
        this.fail(transfer, error);
      },
    );
  }

  onMessage(from: ReplicaId, message: TransferMessage): void {
    const transfer = this.current;
    if (message.type === 'snapshot_read' || transfer === null) return;
    if (!sameSnapshot(transfer.snapshot, message.snapshot)) return;
    if (message.type === 'snapshot_gone') {
      this.logger.info(
        { from },
        'the snapshot being received is gone at its source; waiting for a new offer',
      );
      this.abort();
      return;
    }
    this.onChunk(transfer, message);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.stallTimer);
    this.current = null;
  }

  private onChunk(transfer: Transfer, chunk: SnapshotChunk): void {
    if (chunk.offset !== transfer.held + transfer.queued) return; // a duplicate or a gap
    transfer.inFlight = Math.max(0, transfer.inFlight - 1);
    if (crc32(chunk.bytes) !== chunk.checksum || chunk.bytes.length === 0) {
      // Damaged on the way: ask again from what we hold.
      transfer.next = transfer.held + transfer.queued;
      transfer.inFlight = 0;
      this.askMore(transfer);
      return;
    }
    transfer.lastChunkAtMs = performance.now();
    transfer.queued += chunk.bytes.length;
    transfer.writing = transfer.writing.then(async () => {
      if (this.current !== transfer) return;
      await this.sink.writeTransferChunk(chunk.offset, chunk.bytes);
      transfer.held += chunk.bytes.length;
      transfer.queued -= chunk.bytes.length;
      this.report();
      if (transfer.held >= transfer.snapshot.sizeBytes) this.finish(transfer);
    });
    transfer.writing.catch((error: unknown) => this.fail(transfer, error));
    this.askMore(transfer);
  }

  private askMore(transfer: Transfer): void {
    const size = transfer.snapshot.sizeBytes;
    while (transfer.inFlight < chunksInFlightMax && transfer.next < size) {
      const length = Math.min(this.chunkBytes, size - transfer.next);
      this.send(transfer.from, {
        type: 'snapshot_read',
        snapshot: transfer.snapshot,
        offset: transfer.next,
        length,
      });
      transfer.next += length;
      transfer.inFlight += 1;
    }
  }

  private askAgainIfStalled(): void {
    const transfer = this.current;
    if (transfer === null || transfer.finishing || !transfer.roomFound) return;
    if (performance.now() - transfer.lastChunkAtMs < stallMs) return;
    transfer.lastChunkAtMs = performance.now();
    transfer.next = transfer.held + transfer.queued;
    transfer.inFlight = 0;
    this.askMore(transfer);
  }

  private finish(transfer: Transfer): void {
    if (transfer.finishing) return;
    transfer.finishing = true;
    this.sink.finishTransfer().then(
      (snapshot) => {
        if (this.current !== transfer) return;
        this.current = null;
        const seconds = (performance.now() - transfer.startedAtMs) / 1000;
        this.logger.info(
          {
            index: snapshot.info.position.index,
            bytes: snapshot.info.sizeBytes,
            resumedAt: transfer.startedHeld,
            seconds: Number(seconds.toFixed(3)),
          },
          'snapshot received',
        );
        this.onProgress(null);
        this.onInstall(snapshot);
      },
      (error: unknown) => this.fail(transfer, error),
    );
  }

  private fail(transfer: Transfer, error: unknown): void {
    if (this.current !== transfer) return;
    this.logger.warn(
      { error: errorText(error) },
      'snapshot transfer failed; starting over at the next offer',
    );
    this.abort();
  }

  private abort(): void {
    this.current = null;
    this.aborting = this.aborting.then(
      () => this.sink.abortTransfer(),
      () => this.sink.abortTransfer(),
    );
    this.aborting.catch((error: unknown) => {
      this.logger.warn({ error: errorText(error) }, 'deleting a partial snapshot failed');
    });
    this.onProgress(null);
  }

  private report(): void {
    const transfer = this.current;
    if (transfer === null) return;
    const seconds = (performance.now() - transfer.startedAtMs) / 1000;
    const bytesPerSecond = seconds > 0 ? (transfer.held - transfer.startedHeld) / seconds : 0;
    this.onProgress({ snapshot: transfer.snapshot, receivedBytes: transfer.held, bytesPerSecond });
  }
}

function sameReader(a: TransferDestination, b: TransferDestination): boolean {
  return a.kind === 'learner'
    ? b.kind === 'learner' && a.id === b.id
    : b.kind === 'save' && a.asker === b.asker;
}

function sameRead(a: SnapshotRead, b: SnapshotRead): boolean {
  return sameSnapshot(a.snapshot, b.snapshot) && a.offset === b.offset && a.length === b.length;
}
