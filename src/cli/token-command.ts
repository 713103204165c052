// `understudy token NAME [--admin] [--out FILE]`: a new token for NAME and the digest line to add to
// the servers' --auth-file. With --out the token goes to a new file (mode 0600) and is not printed.

import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError } from '../errors.js';
import { makeToken } from '../transport/index.js';

interface TokenFlags {
  readonly admin?: boolean;
  readonly out?: string;
}

export function addTokenCommand(program: Command): void {
  program
    .command('token')
    .description(
      "make a token for NAME (a client, or with --admin an operator) and print the line the servers' " +
        '--auth-file lists for it (its SHA-256 digest: the file holds no token)',
    )
    .argument('<name>', "the token's name: its client ids begin with NAME/ (letters, digits, _ and -)")
    .option('--admin', 'an admin token: may also ask for a switchover, and use any client id')
    .option('--out <file>', 'write the token to this new file (mode 0600) instead of printing it')
    .action((name: string, flags: TokenFlags) => {
      const { token, digest } = makeToken(name);
      const section = flags.admin === true ? 'admins' : 'clients';
      if (flags.out !== undefined) {
        try {
          writeFileSync(flags.out, `${token}\n`, { mode: 0o600, flag: 'wx' });
        } catch (error) {
          throw new ConfigError(
            `--out ${flags.out}: ${(error as NodeJS.ErrnoException).code ?? 'not written'}`,
          );
        }
        process.stdout.write(`wrote the token of ${name} to ${flags.out}\n`);
      } else {
        process.stdout.write(`token: ${token}\n`);
      }
      process.stdout.write(
        `add to --auth-file under "${section}": ${JSON.stringify(name)}: ${JSON.stringify(digest)}\n`,
      );
    });
}
