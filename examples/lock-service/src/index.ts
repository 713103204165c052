// The lock service example: the service (loaded by `understudy ... --service`), its typed client, its
// messages, and the lease check its tests and simulation run.

export { findLeaseViolations, type Grant, type ReleaseAttempt } from './lease-history.js';
export { LockClient, type LockClientOptions } from './lock-client.js';
export {
  type AcquireResult,
  type Lease,
  type LockOperation,
  type LockState,
  leaseMsMax,
  lockNameBytesMax,
  ownerBytesMax,
  type ReleaseResult,
} from './lock-messages.js';
export { default as createLockService, LockService, service } from './lock-service.js';
export { checkLockHistory, lockSimulation } from './lock-simulation.js';
