// The identity of a data directory: a random id written once, when the directory is first used,
// and made durable (durable-file.ts) before the replica reports it.
// A wiped or replaced directory has no identity file, so it gets a new id, and the coordinator
// learns that whatever this replica acknowledged before may be gone. A directory whose recovery lost
// data it may have acknowledged gets a new id the same way (renewDirectoryIdentity), before the
// repair is made: a crash in between then costs another new id, never a repair under the old one.

import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { writeFileDurably } from './durable-file.js';

/** The identity's file; a directory that has one has been used by a replica. */
export const directoryIdentityFileName = 'identity';
const identityPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Reads the directory's identity, creating it first if the directory has none. */
export function directoryIdentity(directory: string): string {
  fs.mkdirSync(directory, { recursive: true });
  const file = path.join(directory, directoryIdentityFileName);
  if (fs.existsSync(file)) {
    const identity = fs.readFileSync(file, 'utf8').trim();
    if (!identityPattern.test(identity)) {
      throw new ConfigError(`${file} does not hold a directory identity; move the data directory aside`);
    }
    return identity;
  }
  const identity = randomUUID();
  writeFileDurably(file, Buffer.from(`${identity}\n`));
  return identity;
}

/** Replaces the directory's identity with a new random one, durably, and returns it. */
export function renewDirectoryIdentity(directory: string): string {
  fs.mkdirSync(directory, { recursive: true });
  const identity = randomUUID();
  writeFileDurably(path.join(directory, directoryIdentityFileName), Buffer.from(`${identity}\n`));
  return identity;
}
