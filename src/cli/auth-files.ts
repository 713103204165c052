// Where tokens and secrets come from: files (and, for a client, the UNDERSTUDY_TOKEN variable), never
// a flag's value, which anyone on the machine can read in `ps`. Errors name the file or the variable,
// never what it holds.

import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import {
  type AccessPolicy,
  parseClusterSecret,
  parseCredentials,
  readSecretText,
  tokenName,
} from '../transport/index.js';

/** The variable a client's token may come in, when no --token-file is given. */
export const TOKEN_VARIABLE = 'UNDERSTUDY_TOKEN';

function readText(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

export interface AccessFlags {
  readonly authFile?: string;
  readonly clusterSecretFile?: string;
}

/** A server's access policy from --auth-file and --cluster-secret-file (each optional). */
export function serverAccess(flags: AccessFlags): AccessPolicy {
  return {
    ...(flags.authFile === undefined
      ? {}
      : {
          credentials: parseCredentials(
            readText('--auth-file', flags.authFile),
            `--auth-file ${flags.authFile}`,
          ),
        }),
    ...(flags.clusterSecretFile === undefined
      ? {}
      : {
          clusterSecret: parseClusterSecret(
            readText('--cluster-secret-file', flags.clusterSecretFile),
            `--cluster-secret-file ${flags.clusterSecretFile}`,
          ),
        }),
  };
}

/**
 * A client's token: the --token-file (or UNDERSTUDY_TOKEN_FILE) if given, else UNDERSTUDY_TOKEN,
 * else none. A token is `<name>.<secret>`.
 */
export function clientToken(
  tokenFile: string | undefined,
  environment: NodeJS.ProcessEnv = process.env,
): string | undefined {
  let token: string;
  let source: string;
  if (tokenFile !== undefined) {
    source = `--token-file ${tokenFile}`;
    token = readSecretText(readText('--token-file', tokenFile), source);
  } else {
    const variable = environment[TOKEN_VARIABLE];
    if (variable === undefined || variable === '') return undefined;
    source = TOKEN_VARIABLE;
    token = readSecretText(variable, source);
  }
  if (tokenName(token) === null) {
    throw new ConfigError(`${source}: a token is <name>.<secret>, as understudy token NAME makes it`);
  }
  return token;
}
