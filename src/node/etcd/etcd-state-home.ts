// The coordinator's durable memory in etcd, for one leader's term: the state (current view with its
// members' identities — the primary's incarnation, every member's data directory —, whether its
// primary acknowledged it, the last acknowledged view) under PREFIX/state, and the cluster's service
// under PREFIX/service, in the same encodings as the file home (state-store.ts, cluster-service.ts).
//
// Every write is a transaction that compares what this term read: the state key's mod revision (the
// one we read or last wrote), and the leader key's create revision (our term). If either moved,
// another coordinator leads or led since, and the write fails with LostLeadershipError: the caller
// must stop acting at once. Writes go one after another, each comparing the revision the previous
// one made.

import { UnderstudyError } from '../../errors.js';
import type { CoordinatorState } from '../../protocol/effects.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { ServiceIdentity } from '../../protocol/service-identity.js';
import type { ReplicaId } from '../../protocol/types.js';
import {
  parseRecordedService,
  type RecordedService,
  type ServiceRecord,
  serviceRefusal,
} from '../cluster-service.js';
import type { Logger } from '../logger.js';
import { encodeCoordinatorState, parseCoordinatorState } from '../state-store.js';
import type { Compare, EtcdClient } from './etcd-client.js';

/** The keys of one cluster in etcd. */
export interface EtcdKeys {
  readonly leader: string;
  readonly state: string;
  readonly service: string;
  /** Under it, each coordinator's Sentinel port, on that coordinator's lease (sentinel-registry.ts). */
  readonly sentinels: string;
}

/** Keys of cluster `clusterId`: several clusters may share one etcd. */
export function etcdKeysOf(clusterId: string): EtcdKeys {
  const prefix = `/understudy/${clusterId}`;
  return {
    leader: `${prefix}/leader`,
    state: `${prefix}/state`,
    service: `${prefix}/service`,
    sentinels: `${prefix}/sentinels/`,
  };
}

/** A write lost its compare: another coordinator leads (or led) since this term read the state. */
export class LostLeadershipError extends UnderstudyError {
  override name = 'LostLeadershipError';
  constructor(message: string) {
    super(ErrorCode.unavailable, message);
  }
}

export class EtcdStateHome {
  private stateRevision: number;
  private writing: Promise<void> = Promise.resolve();
  private lost: LostLeadershipError | null = null;
  /** The cluster's service as this term knows it; admitting the first replica records it. */
  readonly serviceRecord: ServiceRecord;

  private constructor(
    private readonly client: EtcdClient,
    private readonly keys: EtcdKeys,
    private readonly term: number,
    stateRevision: number,
    recorded: RecordedService | null,
    logger: Logger,
  ) {
    this.stateRevision = stateRevision;
    this.serviceRecord = new EtcdServiceRecord(recorded, (record) => {
      // The first replica is welcomed before this write returns (admission cannot wait): a lost write is logged.
      this.write([{ key: keys.service, target: 'CREATE', revision: 0 }], keys.service, record).catch(
        (error: unknown) => logger.error({ error: String(error) }, "could not record the cluster's service"),
      );
    });
  }

  /**
   * Reads the state of term `term` (the leader key's create revision). null state: etcd holds none;
   * with `newCluster` an empty one is stored first, as the file home does.
   */
  static async open(
    client: EtcdClient,
    keys: EtcdKeys,
    term: number,
    logger: Logger,
  ): Promise<{ home: EtcdStateHome; state: CoordinatorState | null }> {
    const [state, service] = await Promise.all([client.range(keys.state), client.range(keys.service)]);
    const source = (key: string) => `etcd key ${key}`;
    const stored =
      state.kv === null ? null : parseCoordinatorState(state.kv.value.toString('utf8'), source(keys.state));
    const recorded =
      service.kv === null
        ? null
        : parseRecordedService(service.kv.value.toString('utf8'), source(keys.service));
    const home = new EtcdStateHome(client, keys, term, state.kv?.modRevision ?? 0, recorded, logger);
    return { home, state: stored };
  }

  /** Stores `state` if this term still leads; rejects with LostLeadershipError if not. Writes keep their order. */
  save(state: CoordinatorState): Promise<void> {
    const saved = this.writing.then(async () => {
      const revision = await this.write(
        [{ key: this.keys.state, target: 'MOD', revision: this.stateRevision }],
        this.keys.state,
        encodeCoordinatorState(state),
      );
      this.stateRevision = revision;
    });
    this.writing = saved.catch(() => undefined);
    return saved;
  }

  /** One compare-and-put in this term; the revision it made. */
  private async write(compares: readonly Compare[], key: string, value: Buffer): Promise<number> {
    if (this.lost !== null) throw this.lost;
    const result = await this.client.txn(
      [...compares, { key: this.keys.leader, target: 'CREATE', revision: this.term }],
      [{ key, value }],
    );
    if (!result.succeeded) {
      this.lost = new LostLeadershipError(
        `the write of ${key} lost its compare: another coordinator leads, or led, since term ${this.term}`,
      );
      throw this.lost;
    }
    return result.revision;
  }
}

class EtcdServiceRecord implements ServiceRecord {
  constructor(
    private recorded: RecordedService | null,
    private readonly store: (record: Buffer) => void,
  ) {}

  get service(): ServiceIdentity | null {
    return this.recorded?.service ?? null;
  }

  admit(id: ReplicaId, service: ServiceIdentity): string | null {
    if (this.recorded === null) {
      this.recorded = { service: { name: service.name, version: service.version }, firstReplica: id };
      this.store(Buffer.from(`${JSON.stringify(this.recorded)}\n`));
      return null;
    }
    return serviceRefusal(this.recorded, id, service);
  }
}
