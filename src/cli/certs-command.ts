// `understudy certs --out DIR --ids r1,r2,r3`: a development CA and a certificate for every replica,
// the coordinator and clients, ready for --tls-ca/--tls-cert/--tls-key (certs/generate.ts says what
// each certificate names). Prints the file names, never a key.

import type { Command } from 'commander';
import { CERTIFICATE_HOSTS_DEFAULT } from '../certs/hosts.js';
import { idList } from './options.js';

interface CertsFlags {
  readonly out: string;
  readonly ids: string[];
  readonly hosts?: string[];
}

export function addCertsCommand(program: Command): void {
  program
    .command('certs')
    .description(
      'generate a development CA and TLS certificates for a cluster (keys are written with mode 0600)',
    )
    .requiredOption('--out <dir>', 'directory to write ca.crt, ca.key and <name>.crt/<name>.key into')
    .requiredOption('--ids <ids>', 'replica ids, comma-separated (one certificate each)', idList('--ids'))
    .option(
      '--hosts <names>',
      `host names and IP addresses the certificates are valid for, comma-separated (default: ${CERTIFICATE_HOSTS_DEFAULT.join(',')})`,
      idList('--hosts'),
    )
    .action(async (flags: CertsFlags) => {
      // Loaded here: node-forge costs every other command's start some 40 ms.
      const { generateCertificates } = await import('../certs/generate.js');
      const { files } = await generateCertificates({
        directory: flags.out,
        replicaIds: flags.ids,
        ...(flags.hosts === undefined ? {} : { hosts: flags.hosts }),
      });
      process.stdout.write(`wrote ${files.join(', ')} to ${flags.out}\n`);
    });
}
