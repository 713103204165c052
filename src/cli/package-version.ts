// The package's version, from package.json: what `understudy --version` prints and the Redis port
// reports in INFO.

import { readFileSync } from 'node:fs';

const packageJson: unknown = JSON.parse(
  readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
);

export const packageVersion =
  typeof packageJson === 'object' && packageJson !== null && 'version' in packageJson
    ? String(packageJson.version)
    : 'unknown';
