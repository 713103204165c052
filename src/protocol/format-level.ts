// Format levels: what a build can read of what replicas write down (the log's entries, the built-in
// store's updates, snapshots), numbered so that members of one cluster running different builds
// (a rolling upgrade, one replica at a time) agree on what the primary may log. Each replica reports
// the highest level it reads in its heartbeats, and the highest level of what it holds; the
// coordinator sets the cluster's level to the lowest level any replica it heard reads, raises it once
// all read more, never lowers it nor counts it below what a replica holds, and counts a replica that
// reads less than the cluster's level as not alive (it never joins a view: it could not read the
// log). Heartbeat replies carry the cluster's level to the primary, which logs nothing above it, and
// to every replica, which takes nothing from its peers once the level is above what it reads. A
// follower's sync says what it reads too, and the primary sends it nothing it could not read.
//
// A format a new build reads but does not yet write needs no level; one that an older build could
// not read does. Like etcd's cluster version, the level rises by itself once every member runs the
// newer build; an operator who wants to keep a way back holds it down with `--format-level`.

/** Level 1: the log of builds from 2026-12-05 on (view-start and service-update entries, snapshot formats up to 4). */
export const BASE_FORMAT_LEVEL = 1;
/** Level 2: the key/value store's scan seed (update kind 8) and snapshot format 5 (builds from 2026-12-06). */
export const SCAN_SEED_FORMAT_LEVEL = 2;
/** The highest level this build reads and writes. */
export const FORMAT_LEVEL = SCAN_SEED_FORMAT_LEVEL;

/**
 * What a build that reports no level reads: builds before format levels existed (2026-12-05, from
 * f571c9b) read level 1. Older builds read less, and stop at the first entry they cannot read
 * (`unknown system entry kind ...`), as they always did: they must be stopped, not rolled.
 */
export const UNREPORTED_FORMAT_LEVEL = BASE_FORMAT_LEVEL;

/** A replica reports reading `replicaLevel` while the cluster logs `clusterLevel`: why it cannot join, or null. */
export function formatLevelRefusal(replicaLevel: number, clusterLevel: number): string | null {
  if (replicaLevel >= clusterLevel) return null;
  return (
    `it reads format level ${replicaLevel} but the cluster logs level ${clusterLevel}: ` +
    'run a build that reads it (this replica runs an older build, or --format-level holds it lower)'
  );
}
