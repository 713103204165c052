// The pure protocol core: everything here is deterministic and free of I/O.
export * from './assert.js';
export * from './config.js';
export * from './coordinator.js';
export * from './effects.js';
export * from './error-codes.js';
export * from './messages.js';
export * from './replica.js';
export * from './replica-log.js';
export * from './service-identity.js';
export * from './sessions.js';
export * from './state-machine.js';
export * from './types.js';
