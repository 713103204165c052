// The key/value store as a service: the name and version every replica of a key/value cluster
// announces, and its factory. It is what a replica runs unless it is given another service.

import type { ServiceIdentity } from '../protocol/service-identity.js';
import type { StateMachineFactory } from '../protocol/state-machine.js';
import { kvLimitsDefault } from './kv-limits.js';
import { KeyValueStore, randomScanSeed } from './kv-store.js';

export const keyValueService: ServiceIdentity = { name: 'understudy-kv', version: 1 };

/** The store a replica runs: it logs and reads formats as far as the replica's format levels say. */
export const createKeyValueStore: StateMachineFactory = (context) =>
  new KeyValueStore(kvLimitsDefault, Date.now, randomScanSeed, context);
