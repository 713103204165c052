// History recording and checking: the history format, the linearizability checker and the
// final-state invariants, used on histories from the simulator and from real processes.

export * from './history.js';
export * from './invariants.js';
export * from './linearizability.js';
