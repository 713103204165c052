// The config file (`--config FILE`): JSON if its name ends in .json, YAML otherwise. Its schema is
// made from the settings table: a mapping of sections, each a mapping of settings, every one
// optional (null is the same as absent), unknown sections and settings refused. A value is checked
// by the schema of its setting, the one its flag uses, so a file is held to exactly what the flag
// takes. Every problem is reported with the file and the setting's path, the way an operator would
// search for it: `--config cluster.yaml: replica.snapshotLogBytes: expected an integer from 1 to
// 1099511627776, got "big"`.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { type Setting, type SettingSection, serverSettings, settingSections } from './server-settings.js';

/** A file's settings, checked and normalised: section → key → value (absent when not set). */
export type ConfigDocument = Partial<Record<SettingSection, Readonly<Record<string, unknown>>>>;

/** A config file that cannot be read or does not hold valid settings; the message says where and why. */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
}

function sectionSettings(section: SettingSection): readonly Setting[] {
  return serverSettings.filter((setting) => setting.section === section);
}

const documentSchema = z.strictObject(
  Object.fromEntries(
    settingSections.map((section) => [
      section,
      z
        .strictObject(
          Object.fromEntries(
            sectionSettings(section).map((setting) => [
              setting.key,
              setting.value.schema.nullable().optional(),
            ]),
          ),
          { error: 'expected a mapping of settings' },
        )
        .nullable()
        .optional(),
    ]),
  ),
  { error: `expected a mapping of sections (${settingSections.join(', ')})` },
);

/** Reads, parses and checks a config file; throws ConfigFileError naming the file and the setting. */
export function readConfigFile(file: string): ConfigDocument {
  const fail = (message: string): never => {
    throw new ConfigFileError(`--config ${file}: ${message}`);
  };
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    fail(`cannot read it: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    fail(`not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message.trim()}`);
  }
  // An empty file (or one of comments only) sets nothing.
  const result = documentSchema.safeParse(parsed ?? {});
  if (!result.success)
    fail(result.error.issues.map((issue) => describeIssue(issue, parsed)).join(`\n--config ${file}: `));
  return withoutUnset(result.data as Record<string, Record<string, unknown> | null | undefined>);
}

function describeIssue(issue: z.core.$ZodIssue, document: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    const [section] = issue.path;
    const known =
      section === undefined
        ? `the sections are ${settingSections.join(', ')}`
        : `${String(section)} takes ${sectionSettings(section as SettingSection)
            .map((setting) => setting.key)
            .join(', ')}`;
    const what = section === undefined ? 'section' : 'setting';
    return issue.keys
      .map((key) => `${[...issue.path, key].join('.')}: unknown ${what} (${known})`)
      .join('; ');
  }
  const where = issue.path.length === 0 ? 'the file' : issue.path.join('.');
  return `${where}: ${issue.message}, got ${shown(valueAt(document, issue.path))}`;
}

function valueAt(document: unknown, path: readonly PropertyKey[]): unknown {
  let value = document;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

const shownLengthMax = 60;

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > shownLengthMax ? `${text.slice(0, shownLengthMax)}…` : text;
}

/** Drops nulls: null means "not set", so that the defaults' own printout is a valid file. */
function withoutUnset(data: Record<string, Record<string, unknown> | null | undefined>): ConfigDocument {
  const document: Record<string, Record<string, unknown>> = {};
  for (const [section, values] of Object.entries(data)) {
    if (values === null || values === undefined) continue;
    document[section] = Object.fromEntries(Object.entries(values).filter(([, value]) => value != null));
  }
  return document;
}
