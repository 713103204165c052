// Which service's data a replica's data directory holds: recorded when the directory is first used,
// checked at every start. Snapshots and log entries are in their service's format, so a replica
// that runs another service (or another version of it) must not replay them: it refuses to start.
// A directory used before this record existed (it has an identity but no record) was written by the
// one service those builds ran, which the caller names.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import {
  describeService,
  type ServiceIdentity,
  sameService,
  serviceIdentityProblem,
} from '../protocol/service-identity.js';
import { directoryIdentityFileName } from './directory-identity.js';
import { writeFileDurably } from './durable-file.js';

const fileName = 'service.json';
/** The record's own bound on a name; the handshake's is ID_BYTES_MAX, which is smaller. */
const nameBytesMax = 4096;

/**
 * Records that `directory` holds `service`'s data, or checks that it already does; throws ConfigError
 * when it holds another service's. `formerService` is what a directory used before the record
 * existed holds.
 */
export function claimDirectoryForService(
  directory: string,
  service: ServiceIdentity,
  formerService: ServiceIdentity,
): void {
  fs.mkdirSync(directory, { recursive: true });
  const file = path.join(directory, fileName);
  let recorded: ServiceIdentity;
  if (fs.existsSync(file)) {
    recorded = readRecord(file);
  } else if (fs.existsSync(path.join(directory, directoryIdentityFileName))) {
    recorded = formerService;
  } else {
    writeRecord(file, service);
    return;
  }
  if (!sameService(recorded, service)) {
    throw new ConfigError(
      `data directory ${directory} holds the data of service ${describeService(recorded)}, but this replica ` +
        `runs ${describeService(service)}: run that service on it, or give this replica another data directory`,
    );
  }
  if (!fs.existsSync(file)) writeRecord(file, service);
}

function readRecord(file: string): ServiceIdentity {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${file} is not JSON (${(error as Error).message}); move the data directory aside`);
  }
  const problem = serviceIdentityProblem(value, nameBytesMax);
  if (problem !== null) {
    throw new ConfigError(`${file} does not name a service (${problem}); move the data directory aside`);
  }
  const { name, version } = value as ServiceIdentity;
  return { name, version };
}

function writeRecord(file: string, service: ServiceIdentity): void {
  const { name, version } = service;
  writeFileDurably(file, Buffer.from(`${JSON.stringify({ name, version })}\n`));
}
