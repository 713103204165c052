// V8 flags for the server processes (replica, coordinator). Under load V8's defaults keep far more
// memory than a replica's live heap: a young generation that grows to 2 × 16 MiB and old-generation
// garbage that grows to several times the live heap before a major collection. A replica with a
// 1 MB state then sat at 150-170 MB resident; with these flags at 88-92 MB (docs/OPERATIONS.md,
// "Retention"). Heap sizing flags take effect only when the process starts, so every server
// Understudy spawns gets them on its command line, and bin/understudy.js carries the same flags in
// its shebang for a replica started by hand (a unit test keeps the two in step).
export const serverNodeFlags: readonly string[] = [
  // Scavenge after each 1 MiB of new objects: the hot path's garbage dies young.
  '--max-semi-space-size=1',
  // Collect the old generation once it has grown 20 % past what survived the last collection.
  '--heap-growing-percent=20',
];
