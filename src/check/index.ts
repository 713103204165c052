// History recording and checking: the history format, the linearizability checker, the checks of
// bounded reads, whole scans and the final-state invariants, used on histories from the simulator and from real
// processes.

export * from './bounded-reads.js';
export * from './history.js';
export * from './invariants.js';
export * from './linearizability.js';
export * from './scans.js';
