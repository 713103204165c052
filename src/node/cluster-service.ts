// The service a cluster runs, as its coordinator records it. The first replica the coordinator
// admits names it; from then on a replica that runs another service, or another version of it, is
// refused at the handshake, so it never reports to the coordinator and never joins a view. The
// record is written durably (durable-file.ts) before that first replica is welcomed, so a restarted
// coordinator keeps refusing the same replicas. It lives beside the coordinator's state, in
// DIR/cluster-service.json; a coordinator directory from before this record existed gets one from
// the next replica that connects.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import {
  describeService,
  type ServiceIdentity,
  sameService,
  serviceIdentityProblem,
} from '../protocol/service-identity.js';
import type { ReplicaId } from '../protocol/types.js';
import { type FileWriter, writeFileDurably } from '../storage/durable-file.js';
import { ID_BYTES_MAX } from '../transport/index.js';

const fileName = 'cluster-service.json';

export interface RecordedService {
  readonly service: ServiceIdentity;
  /** The replica that named it: errors say so, to point at where the other service runs. */
  readonly firstReplica: string;
}

/** Who decides which service a replica must run to be admitted: a file (here) or etcd (etcd/). */
export interface ServiceRecord {
  readonly service: ServiceIdentity | null;
  /** Why replica `id`, which runs `service`, may not join; null admits it (the first one names the service). */
  admit(id: ReplicaId, service: ServiceIdentity): string | null;
}

export class ClusterServiceRecord implements ServiceRecord {
  private readonly file: string;
  private recorded: RecordedService | null;

  /** Reads the record of `directory`; a malformed one is a ConfigError. */
  constructor(
    directory: string,
    private readonly writer: FileWriter = fs,
  ) {
    fs.mkdirSync(directory, { recursive: true });
    this.file = path.join(directory, fileName);
    this.recorded = fs.existsSync(this.file) ? this.load() : null;
  }

  /** The cluster's service, or null before any replica was admitted. */
  get service(): ServiceIdentity | null {
    return this.recorded?.service ?? null;
  }

  /** Why replica `id`, which runs `service`, may not join; null admits it (the first one names the service). */
  admit(id: ReplicaId, service: ServiceIdentity): string | null {
    if (this.recorded === null) {
      const recorded = { service: { name: service.name, version: service.version }, firstReplica: id };
      writeFileDurably(this.file, Buffer.from(`${JSON.stringify(recorded)}\n`), this.writer);
      this.recorded = recorded;
      return null;
    }
    return serviceRefusal(this.recorded, id, service);
  }

  private load(): RecordedService {
    return parseRecordedService(fs.readFileSync(this.file, 'utf8'), this.file);
  }
}

/** Why replica `id`, which runs `service`, may not join a cluster that runs `recorded`; null admits it. */
export function serviceRefusal(
  recorded: RecordedService,
  id: ReplicaId,
  service: ServiceIdentity,
): string | null {
  if (sameService(recorded.service, service)) return null;
  return (
    `replica ${id} runs service ${describeService(service)}, but this cluster runs ` +
    `${describeService(recorded.service)} (replica ${recorded.firstReplica} ran it first): ` +
    `start ${id} with the cluster's service, or give it a cluster of its own`
  );
}

/** Reads a recorded service (`source` names where it came from); a ConfigError if it is not one. */
export function parseRecordedService(text: string, source: string): RecordedService {
  try {
    const stored: unknown = JSON.parse(text);
    if (typeof stored !== 'object' || stored === null) throw new Error('not an object');
    const { service, firstReplica } = stored as Record<string, unknown>;
    const problem = serviceIdentityProblem(service, ID_BYTES_MAX);
    if (problem !== null) throw new Error(`"service": ${problem}`);
    if (typeof firstReplica !== 'string') throw new Error('"firstReplica" is not a string');
    const { name, version } = service as ServiceIdentity;
    return { service: { name, version }, firstReplica };
  } catch (error) {
    throw new ConfigError(
      `${source} is not a valid record of the cluster's service: ${(error as Error).message}`,
    );
  }
}
