// V8 flags for the server processes (replica, coordinator). Under load V8's defaults keep far more
// memory than a replica's live heap: a young generation that grows to 2 × 16 MiB. A replica with a
// 1 MB state then sat at 150-170 MB resident; with a 1 MiB young generation at 116-121 MB
// (docs/OPERATIONS.md, "Retention"). Heap sizing flags take effect only when the process starts, so
// every server Understudy spawns gets them on its command line, and bin/understudy.js carries the
// same flags in its shebang for a replica started by hand (a unit test keeps the two in step).
//
// `--heap-growing-percent=50` (a major collection once the old generation grew 50 % past the last
// one's survivors, where V8 alone allows up to 4x): a replica's log entries live in its heap until a
// snapshot compacts them and then die there, so between major collections a backup's heap grew from
// 100 to 250-300 MB at 320,000 keys, and its resident memory swung by 150 MB. With the flag it held
// at 240-270 MB through 10 minutes, with no more stalls than without (docs/PERFORMANCE.md, "Memory
// through a 10-minute load"). 20 % was tried first and dropped: at that size it made replicas
// stand still for 300-700 ms several times a minute, up to needless view changes ("Stalls").
//
// `--single-threaded-gc`: the collector's work runs on the event loop's own thread, with no helper
// threads. A server shares its cores with its peers (three replicas and a coordinator on a 2-core
// machine in the benchmarks), and each of its ~50 scavenges a second under load woke helper threads
// that then had to find a core, while the event loop waited for them (futex waits of 75-125 ms were
// traced on a primary's main thread). In five interleaved pairs at 32 clients the cluster spent 5-11 %
// less CPU per write with it and its p99 was lower in all five (docs/PERFORMANCE.md, "The collector
// on one thread").
export const serverNodeFlags: readonly string[] = [
  // Scavenge after each 1 MiB of new objects: the hot path's garbage dies young.
  '--max-semi-space-size=1',
  '--heap-growing-percent=50',
  '--single-threaded-gc',
];
