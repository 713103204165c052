// The coordinator's durable memory: the current view, in one small file replaced atomically
// (write a temporary file, fsync it, rename over the old one, fsync the directory).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import type { View } from '../protocol/types.js';
import { replicaId, viewNumber } from '../protocol/types.js';

const fileName = 'view.json';

export class ViewStore {
  private readonly file: string;

  constructor(private readonly directory: string) {
    fs.mkdirSync(directory, { recursive: true });
    this.file = path.join(directory, fileName);
  }

  load(): View | null {
    if (!fs.existsSync(this.file)) return null;
    const text = fs.readFileSync(this.file, 'utf8');
    try {
      const raw = JSON.parse(text) as {
        number: number;
        primary: string;
        backups: string[];
        learners: string[];
      };
      if (!Number.isInteger(raw.number) || typeof raw.primary !== 'string') throw new Error('missing fields');
      return {
        number: viewNumber(raw.number),
        primary: replicaId(raw.primary),
        backups: raw.backups.map(replicaId),
        learners: raw.learners.map(replicaId),
      };
    } catch (error) {
      throw new ConfigError(
        `${this.file} is not a valid view: ${error instanceof Error ? error.message : error}`,
      );
    }
  }

  save(view: View): void {
    const temporary = `${this.file}.tmp`;
    const fd = fs.openSync(temporary, 'w');
    try {
      fs.writeSync(fd, JSON.stringify(view));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, this.file);
    const directoryFd = fs.openSync(this.directory, 'r');
    try {
      fs.fsyncSync(directoryFd);
    } finally {
      fs.closeSync(directoryFd);
    }
  }
}
