// Keys that expire, at the end of a chaos run. The history holds each expiry as a deletion of unknown
// outcome from the earliest time the cluster may make it (workload.ts), so the linearizability check
// refuses a key gone too soon, but nothing in it says a key must go at all. This does, once the
// cluster is healed: a register whose final read found the value a write with a time to live gave it
// still holds that write's time (values are unique, so no later write changed it, and the chaos
// workload sends no expire or persist), and that time passed at the latest `ttlMs` after the write
// was acknowledged (the primary fixed it by its clock when it ran the write, before the answer; the
// run's clock and the replicas' are one machine's). So once EXPIRY_GRACE_MS more have passed, the key
// must be gone: it is read again until it is, and still being there EXPIRY_OUTLIVED_MS after its time
// is a problem. The reads go into the history as more final reads.
// (The clocks: the primary compares its wall clock with the time; the run reads its monotonic one.
// On one machine they advance together but for NTP's slewing, which the seconds here dwarf.)

import { setTimeout as sleep } from 'node:timers/promises';
import type { HistoryRecorder } from '../check/index.js';
import { Client } from '../client/index.js';

/** A value written by a definite write with a time to live. */
export interface ExpiringValue {
  readonly key: string;
  /** When the write was acknowledged, on the run's monotonic clock (ns). */
  readonly acknowledgedNs: number;
  readonly ttlMs: number;
}

/** How long past its time a key may still be read before it is read again: a tick and a commit, with room. */
export const EXPIRY_GRACE_MS = 1000;
/**
 * A key still there this long after its time, with the cluster healed, outlived it: a problem (once
 * this check has read for EXPIRY_CHECK_MIN_MS, so a primary that has just taken over has had its tick).
 */
export const EXPIRY_OUTLIVED_MS = 10_000;
const EXPIRY_CHECK_MIN_MS = 2000;
const EXPIRY_REREAD_MS = 250;
/** Each read's deadline, retries included. */
const EXPIRY_READ_DEADLINE_MS = 5000;

/** A key the final reads found holding a value a write with a time to live gave it. */
export interface KeyStillExpiring {
  readonly key: string;
  readonly value: string;
  /** The latest time (run's clock, ns) at which its time to live ran out. */
  readonly dueNs: number;
}

/** The keys whose final value a write with a time to live gave them, the earliest due first. */
export function keysStillExpiring(
  finals: ReadonlyMap<string, string | null>,
  expiring: ReadonlyMap<string, ExpiringValue>,
): KeyStillExpiring[] {
  const found: KeyStillExpiring[] = [];
  for (const [key, value] of finals) {
    const write = value === null ? undefined : expiring.get(value);
    if (value === null || write === undefined || write.key !== key) continue;
    found.push({ key, value, dueNs: write.acknowledgedNs + write.ttlMs * 1e6 });
  }
  return found.sort((a, b) => a.dueNs - b.dueNs);
}

export interface ExpiryReader {
  readonly coordinator: string;
  /** The history's process for these reads (the final reads'). */
  readonly process: number;
  readonly recorder: HistoryRecorder;
  readonly clock: () => number;
}

/**
 * Reads each key again, from EXPIRY_GRACE_MS after its time, until it is gone; a key still there
 * EXPIRY_OUTLIVED_MS after its time is a problem. Returns how many went.
 */
export async function checkKeysExpire(
  { coordinator, process, recorder, clock }: ExpiryReader,
  keys: readonly KeyStillExpiring[],
  problems: string[],
  signal?: AbortSignal,
): Promise<number> {
  if (keys.length === 0) return 0;
  let gone = 0;
  const startNs = clock();
  const client = await Client.connect({ coordinator, deadlineMs: EXPIRY_READ_DEADLINE_MS });
  try {
    for (const { key, value, dueNs } of keys) {
      const waitMs = (dueNs - clock()) / 1e6 + EXPIRY_GRACE_MS;
      if (waitMs > 0) await sleep(waitMs, undefined, { signal }).catch(() => undefined);
      let read: string | null = value;
      while (read !== null && signal?.aborted !== true) {
        const handle = recorder.invoke(process, 'read', key, null, clock());
        try {
          read = await client.getText(key);
          recorder.ok(handle, read, clock());
        } catch {
          recorder.info(handle, clock()); // observed nothing
        }
        if (read === null) break;
        const pastMs = (clock() - dueNs) / 1e6;
        if (pastMs >= EXPIRY_OUTLIVED_MS && clock() - startNs >= EXPIRY_CHECK_MIN_MS * 1e6) {
          problems.push(
            `key ${key} still holds ${value}, written with a time to live, ${(pastMs / 1000).toFixed(1)} s after its time ran out (the cluster healed)`,
          );
          break;
        }
        await sleep(EXPIRY_REREAD_MS, undefined, { signal }).catch(() => undefined);
      }
      if (read === null) gone += 1;
    }
  } finally {
    await client.close();
  }
  return gone;
}
