// What a server reads again when it gets SIGHUP, as PostgreSQL, nginx and others do: the tokens of
// --auth-file, the secrets of --cluster-secret-file, and the certificates of --tls-ca, --tls-cert and
// --tls-key. What parses replaces what was loaded, for every connection made from then on (the
// secret a replica brings when it dials, too); connections already made keep the principal they
// proved and the certificates they negotiated. A file that does not parse (or a key that does not
// match its certificate) changes nothing: the error is logged, and what was loaded before stays.

import type { Logger } from '../node/logger.js';
import type { AccessPolicy, ClusterSecret, ReloadableTls } from '../transport/index.js';
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
  if (access.credentials !== undefined) reloadTokens(logger, flags, access.credentials);
  if (access.clusterSecret !== undefined) reloadClusterSecret(logger, flags, access.clusterSecret);
  if (tls !== undefined) reloadCertificates(logger, flags, tls);
}

function reloadTokens(
  logger: Logger,
  flags: AccessFlags,
  credentials: NonNullable<AccessPolicy['credentials']>,
): void {
  let fresh: AccessPolicy['credentials'];
  try {
    fresh = flags.authFile === undefined ? undefined : serverAccess({ authFile: flags.authFile }).credentials;
  } catch (error) {
    logger.error(
      { error: (error as Error).message },
      'SIGHUP: --auth-file could not be read again; the tokens loaded before stay',
    );
    return;
  }
  if (fresh === undefined) return;
  credentials.replaceWith(fresh);
  // How many, never which: the names are the operator's, the digests not for logs.
  logger.info(
    { clientTokens: fresh.counts },
    'SIGHUP: reloaded the tokens of --auth-file; connections made from now on use them',
  );
}

function reloadClusterSecret(logger: Logger, flags: AccessFlags, secret: ClusterSecret): void {
  let fresh: AccessPolicy['clusterSecret'];
  try {
    fresh =
      flags.clusterSecretFile === undefined
        ? undefined
        : serverAccess({ clusterSecretFile: flags.clusterSecretFile }).clusterSecret;
  } catch (error) {
    logger.error(
      { error: (error as Error).message },
      'SIGHUP: --cluster-secret-file could not be read again; the secrets loaded before stay',
    );
    return;
  }
  if (fresh === undefined) return;
  secret.replaceWith(fresh);
  logger.info(
    { clusterSecrets: fresh.count },
    'SIGHUP: reloaded the cluster secret of --cluster-secret-file; this process brings the first line and accepts every line from now on',
  );
}

function reloadCertificates(logger: Logger, flags: TlsFlags, tls: ReloadableTls): void {
  try {
    const fresh = serverTlsMaterial(flags);
    if (fresh === undefined) return;
    tls.replace(fresh);
  } catch (error) {
    logger.error(
      { error: (error as Error).message },
      'SIGHUP: --tls-ca, --tls-cert and --tls-key could not be read again; the certificates loaded before stay',
    );
    return;
  }
  logger.info(
    'SIGHUP: reloaded the certificates of --tls-ca, --tls-cert and --tls-key; connections made from now on use them',
  );
}
