// The --tls-ca, --tls-cert and --tls-key files, read into the material the transport takes. A server
// takes all three or none (a member without a certificate could not prove who it is); a client may
// take the CA alone. And the coordinator's --etcd-ca, --etcd-cert and --etcd-key, for etcd. The files'
// contents are never printed: errors name the file only.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { EtcdTls } from '../node/etcd/etcd-client.js';
import { ReloadableTls, type TlsMaterial } from '../transport/index.js';

export interface TlsFlags {
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(`${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

/**
 * How the coordinator reaches etcd over https (--etcd-ca, --etcd-cert, --etcd-key), read once at
 * start; ConfigError when a certificate comes without its key or the other way round.
 */
export function etcdTlsMaterial(flags: {
  readonly etcdCa?: string;
  readonly etcdCert?: string;
  readonly etcdKey?: string;
}): EtcdTls {
  if ((flags.etcdCert === undefined) !== (flags.etcdKey === undefined)) {
    throw new ConfigError('--etcd-cert and --etcd-key go together');
  }
  return {
    ...(flags.etcdCa === undefined ? {} : { ca: readPem('--etcd-ca', flags.etcdCa) }),
    ...(flags.etcdCert === undefined ? {} : { cert: readPem('--etcd-cert', flags.etcdCert) }),
    ...(flags.etcdKey === undefined ? {} : { key: readPem('--etcd-key', flags.etcdKey) }),
  };
}

/**
 * A server's material, which SIGHUP may read again (cli/reload.ts): undefined for plain TCP;
 * ConfigError when only some of the three are given.
 */
export function serverTlsMaterial(flags: TlsFlags): ReloadableTls | undefined {
  const given = [flags.tlsCa, flags.tlsCert, flags.tlsKey].filter((file) => file !== undefined);
  if (given.length === 0) return undefined;
  if (flags.tlsCa === undefined || flags.tlsCert === undefined || flags.tlsKey === undefined) {
    throw new ConfigError(
      '--tls-ca, --tls-cert and --tls-key go together: give all three, or none for plain TCP',
    );
  }
  return new ReloadableTls({
    ca: readPem('--tls-ca', flags.tlsCa),
    cert: readPem('--tls-cert', flags.tlsCert),
    key: readPem('--tls-key', flags.tlsKey),
  });
}

/** A client's material: the CA, and a certificate and key only when both are given. */
export function clientTlsMaterial(flags: TlsFlags): TlsMaterial | undefined {
  if (flags.tlsCa === undefined) {
    if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
      throw new ConfigError('--tls-cert and --tls-key need --tls-ca');
    }
    return undefined;
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new ConfigError('--tls-cert and --tls-key go together');
  }
  return {
    ca: readPem('--tls-ca', flags.tlsCa),
    ...(flags.tlsCert === undefined ? {} : { cert: readPem('--tls-cert', flags.tlsCert) }),
    ...(flags.tlsKey === undefined ? {} : { key: readPem('--tls-key', flags.tlsKey) }),
  };
}

/** The flags `start` gives process `name` (`coordinator`, `r1`, ...) from an `understudy certs` folder. */
export function tlsArgumentsFrom(directory: string | undefined, name: string): string[] {
  if (directory === undefined) return [];
  return [
    '--tls-ca',
    join(directory, 'ca.crt'),
    '--tls-cert',
    join(directory, `${name}.crt`),
    '--tls-key',
    join(directory, `${name}.key`),
  ];
}
