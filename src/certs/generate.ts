// A development certificate authority for a cluster: one CA, and a certificate per replica, one for
// the coordinator(s) and one for clients, each naming its holder in a URI subject alternative name
// (`understudy://replica/r1`, `understudy://coordinator`, `understudy://client`: see
// transport/tls.ts) and valid for the hosts given (127.0.0.1 and localhost by default).
//
// Keys come from node:crypto (native and fast); node-forge builds and signs the certificates, as
// Node has no API for that. Every key and certificate is written with mode 0600, and nothing here
// logs: the caller prints file names only.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';
import { ConfigError } from '../errors.js';
import { identityUri } from '../transport/index.js';
import { CERTIFICATE_HOSTS_DEFAULT } from './hosts.js';

export { CERTIFICATE_HOSTS_DEFAULT } from './hosts.js';

export const CERTIFICATE_VALIDITY_DAYS = 825;
export const CA_VALIDITY_DAYS = 3650;
export const RSA_KEY_BITS = 2048;
const FILE_MODE = 0o600;
const DAY_MS = 24 * 3600 * 1000;

export interface GenerateOptions {
  readonly directory: string;
  readonly replicaIds: readonly string[];
  /** Host names and addresses the servers' certificates are valid for. */
  readonly hosts?: readonly string[];
  readonly now?: Date;
}

/** What was written, as file names relative to the directory. */
export interface GeneratedFiles {
  readonly files: readonly string[];
}

interface KeyPair {
  readonly privateKeyPem: string;
  readonly privateKey: forge.pki.rsa.PrivateKey;
  readonly publicKey: forge.pki.rsa.PublicKey;
}

function newKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: RSA_KEY_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey);
  return {
    privateKeyPem: privateKey,
    privateKey: forgeKey,
    publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e),
  };
}

function newCertificate(publicKey: forge.pki.rsa.PublicKey, now: Date, days: number): forge.pki.Certificate {
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = publicKey;
  // A positive random serial: the high bit cleared so that DER does not read it as negative.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  certificate.serialNumber = serial.toString('hex');
  certificate.validity.notBefore = new Date(now.getTime() - DAY_MS);
  certificate.validity.notAfter = new Date(now.getTime() + days * DAY_MS);
  return certificate;
}

function subjectAltNames(uri: string, hosts: readonly string[]): object[] {
  // Types per RFC 5280: 6 URI, 2 DNS name, 7 IP address.
  return [
    { type: 6, value: uri },
    ...hosts.map((host) => (isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host })),
  ];
}

export async function generateCertificates(options: GenerateOptions): Promise<GeneratedFiles> {
  const now = options.now ?? new Date();
  const hosts = options.hosts ?? CERTIFICATE_HOSTS_DEFAULT;
  await mkdir(options.directory, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  // 'wx': never overwrite. A second run over a cluster's folder would replace its CA and strand every
  // member holding the old one; and only a new file surely gets mode 0600.
  const write = async (name: string, text: string): Promise<void> => {
    try {
      await writeFile(join(options.directory, name), text, { mode: FILE_MODE, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      throw new ConfigError(
        `${join(options.directory, name)} exists: choose another --out, or remove it first`,
      );
    }
    written.push(name);
  };

  const caKeys = newKeyPair();
  const ca = newCertificate(caKeys.publicKey, now, CA_VALIDITY_DAYS);
  const caName = [{ name: 'commonName', value: 'Understudy development CA' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());
  await write('ca.key', caKeys.privateKeyPem);
  await write('ca.crt', forge.pki.certificateToPem(ca));

  const issue = async (name: string, commonName: string, uri: string): Promise<void> => {
    const keys = newKeyPair();
    const certificate = newCertificate(keys.publicKey, now, CERTIFICATE_VALIDITY_DAYS);
    certificate.setSubject([{ name: 'commonName', value: commonName }]);
    certificate.setIssuer(ca.subject.attributes);
    certificate.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      // Members both listen and dial, so each certificate serves either side of a connection.
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: subjectAltNames(uri, hosts) },
      { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
    ]);
    certificate.sign(caKeys.privateKey, forge.md.sha256.create());
    await write(`${name}.key`, keys.privateKeyPem);
    await write(`${name}.crt`, forge.pki.certificateToPem(certificate));
  };

  for (const id of options.replicaIds) {
    await issue(id, `understudy replica ${id}`, identityUri({ kind: 'replica', id }));
  }
  await issue('coordinator', 'understudy coordinator', identityUri({ kind: 'coordinator' }));
  await issue('client', 'understudy client', identityUri({ kind: 'client' }));
  return { files: written };
}
