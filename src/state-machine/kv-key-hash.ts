// The hash that puts a key in one of SCAN's buckets (kv-key-buckets.ts): HalfSipHash (Aumasson and
// Bernstein's SipHash on 32-bit words, as the Linux kernel hashes its tables' keys on 32-bit
// machines), keyed by the store's scan seed. An unkeyed hash let anyone who can write keys choose
// keys that share one bucket: each deletion then searched the whole bucket and each SCAN call
// visited all of it, so a few hundred thousand crafted keys stalled a replica's event loop for as long
// as they liked, and one SCAN reply held the whole bucket. With a key nobody outside the cluster
// knows, which keys share a bucket cannot be worked out from the outside (Redis keys its tables with
// SipHash and a random seed for the same reason). Words are operated on as JavaScript numbers kept
// to 32 bits (`| 0`, `>>> 0`): no allocation, about 100 ns for a key of 16 bytes.

/** The key of the hash: two 32-bit words, chosen at random once per store (kv-store.ts). */
export interface ScanSeed {
  readonly low: number;
  readonly high: number;
}

/** The seed of a store that has none yet: one an older build wrote, until its primary logs a seed. */
export const UNSEEDED: ScanSeed = { low: 0, high: 0 };

const rotl = (word: number, bits: number): number => (word << bits) | (word >>> (32 - bits));

// The state of the hash being computed: module variables, so rounds need no closure per call.
let v0 = 0;
let v1 = 0;
let v2 = 0;
let v3 = 0;

function rounds(count: number): void {
  for (let round = 0; round < count; round++) {
    v0 = (v0 + v1) | 0;
    v1 = rotl(v1, 5) ^ v0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0;
    v3 = rotl(v3, 8) ^ v2;
    v0 = (v0 + v3) | 0;
    v3 = rotl(v3, 7) ^ v0;
    v2 = (v2 + v1) | 0;
    v1 = rotl(v1, 13) ^ v2;
    v2 = rotl(v2, 16);
  }
}

/**
 * HalfSipHash-c-d with a 32-bit result over the key's bytes (`key` in latin1: one char a byte).
 * `compressionRounds` and `finalRounds` are 1 and 3 for the buckets (what hash tables use), 2 and 4
 * for the reference's test vectors.
 */
export function halfSipHash(key: string, seed: ScanSeed, compressionRounds = 1, finalRounds = 3): number {
  v0 = seed.low | 0;
  v1 = seed.high | 0;
  v2 = (0x6c796765 ^ seed.low) | 0;
  v3 = (0x74656462 ^ seed.high) | 0;
  const length = key.length;
  const whole = length - (length % 4);
  for (let at = 0; at < whole; at += 4) {
    const word =
      (key.charCodeAt(at) & 0xff) |
      ((key.charCodeAt(at + 1) & 0xff) << 8) |
      ((key.charCodeAt(at + 2) & 0xff) << 16) |
      ((key.charCodeAt(at + 3) & 0xff) << 24);
    v3 ^= word;
    rounds(compressionRounds);
    v0 ^= word;
  }
  // The last word: the bytes left over, and the length's low byte at the top.
  let last = (length & 0xff) << 24;
  for (let at = whole; at < length; at++) last |= (key.charCodeAt(at) & 0xff) << (8 * (at - whole));
  v3 ^= last;
  rounds(compressionRounds);
  v0 ^= last;
  v2 ^= 0xff;
  rounds(finalRounds);
  return (v1 ^ v3) >>> 0;
}
