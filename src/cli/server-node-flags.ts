// V8 flags for the server processes (replica, coordinator). Under load V8's defaults keep far more
// memory than a replica's live heap: a young generation that grows to 2 × 16 MiB. A replica with a
// 1 MB state then sat at 150-170 MB resident; with a 1 MiB young generation at 116-121 MB
// (docs/OPERATIONS.md, "Retention"). Heap sizing flags take effect only when the process starts, so
// every server Understudy spawns gets them on its command line, and bin/understudy.js carries the
// same flags in its shebang for a replica started by hand (a unit test keeps the two in step).
//
// `--heap-growing-percent=20` (a major collection once the old generation grew 20 % past the last
// one's survivors) saved another 30 MB at a small state, and was dropped: at a state of 320,000
// keys it made replicas stand still for 300-700 ms several times a minute, up to needless view
// changes (docs/PERFORMANCE.md, "Stalls").
export const serverNodeFlags: readonly string[] = [
  // Scavenge after each 1 MiB of new objects: the hot path's garbage dies young.
  '--max-semi-space-size=1',
];
