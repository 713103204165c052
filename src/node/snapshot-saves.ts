// Saving a snapshot for a client (`understudy snapshot save`), in a replica's shell. The core says
// which log index a kept snapshot must reach to hold every write acknowledged so far, and takes one
// if its newest kept snapshot is older (Replica.requestSave). This waits for the snapshot store to
// keep one that far, names it to the client, and serves the file's chunks through the replica's
// SnapshotServer, so saves and learners share one pace (`--transfer-rate`), learners' reads first.
// When the replica asks for tokens, only an admin token may save: a snapshot holds every key and
// every client's session.

import { ErrorCode } from '../protocol/error-codes.js';
import type { SaveClientMessage, SaveRefused } from '../protocol/messages.js';
import type { SaveAnswer } from '../protocol/replica.js';
import type { ServiceIdentity } from '../protocol/service-identity.js';
import type { LogIndex, LogPosition, ReplicaId, Role, SnapshotInfo } from '../protocol/types.js';
import { countRequestRefusal, type MessageConnection, type Principal } from '../transport/index.js';
import type { Logger } from './logger.js';
import type { SnapshotServer } from './snapshot-transfer.js';

/**
 * How long a save waits for its snapshot to be kept: written and committed. A large state takes
 * seconds to write; a cluster that cannot commit for this long refuses the save (the client asks again).
 */
export const saveWaitMsDefault = 60_000;
/** Saves one replica waits on at once; more are refused OVERLOADED. */
const pendingSavesMax = 16;
/**
 * A snapshot a save read a chunk of within this long is kept on past two newer ones (beingRead): a
 * save asks again within 30 s of a chunk it lacks, so one that stays silent longer has given up.
 */
export const saveReadKeepsMs = 60_000;

/** What a save needs of its client's connection. */
export type SaveConnection = Pick<MessageConnection, 'send' | 'isClosed'>;

interface PendingSave {
  readonly connection: SaveConnection;
  readonly id: number;
  readonly index: LogIndex;
  readonly deadlineMs: number;
}

export interface SnapshotSavesOptions {
  readonly replica: ReplicaId;
  readonly service: ServiceIdentity;
  readonly requestSave: () => SaveAnswer;
  readonly role: () => Role;
  /** The newest snapshot the store keeps (kept means committed), or null. */
  readonly newestKept: () => SnapshotInfo | null;
  readonly server: SnapshotServer;
  /** The core may have a snapshot to write: run its effects soon. */
  readonly scheduleFlush: () => void;
  readonly logger: Logger;
  readonly waitMs?: number;
  /** Milliseconds on a monotonic clock (performance.now unless a test gives another). */
  readonly clock?: () => number;
}

export class SnapshotSaves {
  private readonly pending: PendingSave[] = [];
  /** The snapshots saves read, by file name's position, with when a chunk of each was last asked for. */
  private readonly reading = new Map<string, { readonly position: LogPosition; lastReadMs: number }>();
  private readonly clock: () => number;
  private readonly waitMs: number;

  constructor(private readonly options: SnapshotSavesOptions) {
    this.clock = options.clock ?? (() => performance.now());
    this.waitMs = options.waitMs ?? saveWaitMsDefault;
  }

  /** `principal`: who the connection's token proved, or null when this replica asks for no token. */
  onMessage(connection: SaveConnection, principal: Principal | null, message: SaveClientMessage): void {
    if (principal !== null && principal.role !== 'admin') {
      countRequestRefusal('not_admin');
      refuse(
        connection,
        message.id,
        ErrorCode.notAuthorized,
        `saving a snapshot needs an admin token (${principal.name}'s is a client's): it holds every key and every client's session`,
      );
      return;
    }
    if (message.type === 'save_read') {
      const { id, snapshot, offset, length } = message;
      if (offset > snapshot.sizeBytes) {
        refuse(
          connection,
          id,
          ErrorCode.badRequest,
          `offset ${offset} lies past the snapshot's ${snapshot.sizeBytes} bytes`,
        );
        return;
      }
      this.noteRead(snapshot.position);
      this.options.server.onRead(
        {
          kind: 'save',
          asker: connection,
          reply: (sent) => {
            if (sent.type === 'snapshot_chunk') {
              const { bytes, checksum } = sent;
              connection.send({ type: 'save_chunk', id, offset: sent.offset, bytes, checksum });
            } else {
              refuse(
                connection,
                id,
                ErrorCode.snapshotGone,
                `snapshot ${snapshot.position.index} is no longer kept here: newer ones replaced it; save again`,
              );
            }
          },
        },
        { type: 'snapshot_read', snapshot, offset, length },
      );
      return;
    }
    const answer = this.options.requestSave();
    this.options.scheduleFlush();
    if (!answer.ok) {
      refuse(connection, message.id, answer.code, answer.message, answer.primary);
      return;
    }
    if (this.pending.length >= pendingSavesMax) {
      refuse(
        connection,
        message.id,
        ErrorCode.overloaded,
        `${pendingSavesMax} saves are waiting already; retry later`,
      );
      return;
    }
    this.pending.push({
      connection,
      id: message.id,
      index: answer.index,
      deadlineMs: this.clock() + this.waitMs,
    });
    this.tick();
  }

  /** Names its snapshot to each save whose snapshot is kept, and refuses those that can no longer get one. */
  tick(): void {
    if (this.pending.length === 0) return;
    const kept = this.options.newestKept();
    const isPrimary = this.options.role() === 'primary';
    const now = this.clock();
    let waiting = 0;
    for (const save of this.pending) {
      if (save.connection.isClosed) continue;
      if (kept !== null && kept.position.index >= save.index) {
        this.ready(save, kept);
      } else if (!isPrimary) {
        refuse(
          save.connection,
          save.id,
          ErrorCode.notPrimary,
          `replica ${this.options.replica} stopped being the primary before its snapshot was kept; save again`,
        );
      } else if (now > save.deadlineMs) {
        refuse(
          save.connection,
          save.id,
          ErrorCode.unavailable,
          `no snapshot reaching index ${save.index} was kept within ${Math.round(this.waitMs / 1000)} s (the cluster commits nothing?); save again`,
        );
      } else {
        this.pending[waiting++] = save;
      }
    }
    this.pending.length = waiting;
  }

  /**
   * The snapshot the waiting saves counted on could not be written: each is refused with why, at
   * once, rather than at its deadline (a save asked again waits for the core's next try).
   */
  snapshotFailed(reason: string): void {
    for (const save of this.pending) {
      if (save.connection.isClosed) continue;
      refuse(
        save.connection,
        save.id,
        ErrorCode.unavailable,
        `replica ${this.options.replica} could not write the snapshot (${reason}); save again once its disk has room`,
      );
    }
    this.pending.length = 0;
  }

  /**
   * The snapshots saves are reading (a chunk asked for within saveReadKeepsMs): the store keeps them
   * on at its next keep, so a save slower than two new snapshots (paced by --transfer-rate) finishes.
   */
  beingRead(): LogPosition[] {
    const now = this.clock();
    for (const [key, read] of this.reading) {
      if (now - read.lastReadMs > saveReadKeepsMs) this.reading.delete(key);
    }
    return [...this.reading.values()].map((read) => read.position);
  }

  private noteRead(position: LogPosition): void {
    const key = `${position.view}/${position.index}`;
    const read = this.reading.get(key);
    if (read === undefined) this.reading.set(key, { position, lastReadMs: this.clock() });
    else read.lastReadMs = this.clock();
  }

  private ready(save: PendingSave, snapshot: SnapshotInfo): void {
    const { replica, service } = this.options;
    this.options.logger.info(
      { index: snapshot.position.index, bytes: snapshot.sizeBytes, asked: save.index },
      'a client saves a snapshot',
    );
    save.connection.send({ type: 'save_ready', id: save.id, snapshot, service, replica });
  }
}

function refuse(
  connection: SaveConnection,
  id: number,
  code: string,
  message: string,
  primary: ReplicaId | null = null,
): void {
  const refused: SaveRefused = { type: 'save_refused', id, code, message, primary };
  connection.send(refused);
}
