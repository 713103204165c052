// What a server reads again when it gets SIGHUP, as PostgreSQL, nginx and others do: the tokens of
// --auth-file, the secrets of --cluster-secret-file, and the certificates of --tls-ca, --tls-cert and
// --tls-key. What parses replaces what was loaded, for every connection made from then on (the
// secret a replica brings when it dials, too); connections already made keep the principal they
// proved and the certificates they negotiated. A file that does not parse (or a key that does not
// match its certificate) changes nothing: the error is logged, and what was loaded before stays.

import type { Logger } from '../node/logger.js';
import type { AccessPolicy, ReloadableTls } from '../transport/index.js';
import { type AccessFlags, serverAccess } from './auth-files.js';
import { serverTlsMaterial, type TlsFlags } from './tls-files.js';

/** Reads the server's files again (SIGHUP); logs what it did. */
export function reloadFiles(
  logger: Logger,
  flags: AccessFlags & TlsFlags,
  access: AccessPolicy,
  tls: ReloadableTls | undefined,
): void {
  if (access.credentials === undefined && access.clusterSecret === undefined && tls === undefined) {
    logger.info(
      'SIGHUP: nothing to reload (this process was started without --auth-file, --cluster-secret-file and TLS)',
    );
    return;
  }
  const { credentials, clusterSecret } = access;
  if (credentials !== undefined) {
    reloadOne(logger, {
      read: () =>
        flags.authFile === undefined ? undefined : serverAccess({ authFile: flags.authFile }).credentials,
      take: (fresh) => credentials.replaceWith(fresh),
      // How many, never which: the names are the operator's, the digests not for logs.
      said: (fresh) => ({ clientTokens: fresh.counts }),
      done: 'SIGHUP: reloaded the tokens of --auth-file; connections made from now on use them',
      failed: 'SIGHUP: --auth-file could not be read again; the tokens loaded before stay',
    });
  }
  if (clusterSecret !== undefined) {
    reloadOne(logger, {
      read: () =>
        flags.clusterSecretFile === undefined
          ? undefined
          : serverAccess({ clusterSecretFile: flags.clusterSecretFile }).clusterSecret,
      take: (fresh) => clusterSecret.replaceWith(fresh),
      said: (fresh) => ({ clusterSecrets: fresh.count }),
      done: 'SIGHUP: reloaded the cluster secret of --cluster-secret-file; this process brings the first line and accepts every line from now on',
      failed: 'SIGHUP: --cluster-secret-file could not be read again; the secrets loaded before stay',
    });
  }
  if (tls !== undefined) {
    reloadOne(logger, {
      read: () => serverTlsMaterial(flags),
      take: (fresh) => tls.replace(fresh),
      said: () => ({}),
      done: 'SIGHUP: reloaded the certificates of --tls-ca, --tls-cert and --tls-key; connections made from now on use them',
      failed:
        'SIGHUP: --tls-ca, --tls-cert and --tls-key could not be read again; the certificates loaded before stay',
    });
  }
}

/** One file's reload: what it reads, how what parsed is taken, and what is logged either way. */
interface Reload<T> {
  /** Reads and parses the file again (throws what is wrong); undefined when there is none. */
  readonly read: () => T | undefined;
  /** Puts it in place of what was loaded (may throw what is wrong: nothing then changes). */
  readonly take: (fresh: T) => void;
  /** Fields for the log line: counts, never values. */
  readonly said: (fresh: T) => Record<string, unknown>;
  readonly done: string;
  readonly failed: string;
}

function reloadOne<T>(logger: Logger, reload: Reload<T>): void {
  let fresh: T | undefined;
  try {
    fresh = reload.read();
    if (fresh === undefined) return;
    // Inside the try: taking may refuse too (a key that does not match its certificate).
    reload.take(fresh);
  } catch (error) {
    logger.error({ error: (error as Error).message }, reload.failed);
    return;
  }
  logger.info(reload.said(fresh), reload.done);
}
