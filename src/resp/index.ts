// The Redis-protocol (RESP2) port: a replica's key/value service for redis-cli, ioredis and
// redis-benchmark, through the client library.

export { type ClusterBackendOptions, clusterBackend } from './backend.js';
export type { LocalPersistence, LocalReplica, RespBackend } from './context.js';
export { REDIS_COMPATIBLE_VERSION, type RespCounters, RespServer, type RespServerOptions } from './server.js';
