// The config file (`--config FILE`): JSON if its name ends in .json, YAML otherwise. What it may hold
// follows from the settings table: a mapping of sections, each a mapping of settings, every one
// optional (null is the same as absent), unknown sections and settings refused. A value is checked
// by its setting's own check, the one its flag uses, so a file is held to exactly what the flag
// takes. Every problem is reported with the file and the setting's path, the way an operator would
// search for it: `--config cluster.yaml: replica.snapshotLogBytes: expected an integer from 1 to
// 1099511627776, got "big"`.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
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

const isSection = (name: string): name is SettingSection =>
  settingSections.some((section) => section === name);

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
  const { document, problems } = checkDocument(parsed ?? {});
  if (problems.length > 0) fail(problems.join(`\n--config ${file}: `));
  return document;
}

/**
 * Every setting of every section checked by its setting's own check (null: not set), every problem
 * said with its path and the value found: each section's settings in the table's order, then its
 * unknown ones, then the unknown sections.
 */
function checkDocument(parsed: unknown): { document: ConfigDocument; problems: string[] } {
  const document: Partial<Record<SettingSection, Record<string, unknown>>> = {};
  const problems: string[] = [];
  if (!isMapping(parsed)) {
    problems.push(
      `the file: expected a mapping of sections (${settingSections.join(', ')}), got ${shown(parsed)}`,
    );
    return { document, problems };
  }
  for (const section of settingSections) {
    const values = parsed[section];
    if (values === null || values === undefined) continue;
    if (!isMapping(values)) {
      problems.push(`${section}: expected a mapping of settings, got ${shown(values)}`);
      continue;
    }
    const settings = sectionSettings(section);
    const checked: Record<string, unknown> = {};
    for (const setting of settings) {
      const value = values[setting.key];
      if (value === null || value === undefined) continue;
      const result = setting.value.check(value);
      if (result.ok) checked[setting.key] = result.value;
      else problems.push(`${section}.${setting.key}: ${result.message}, got ${shown(value)}`);
    }
    const unknown = Object.keys(values).filter((key) => !settings.some((setting) => setting.key === key));
    if (unknown.length > 0) {
      const takes = settings.map((setting) => setting.key).join(', ');
      problems.push(
        unknown.map((key) => `${section}.${key}: unknown setting (${section} takes ${takes})`).join('; '),
      );
    }
    document[section] = checked;
  }
  const unknownSections = Object.keys(parsed).filter((name) => !isSection(name));
  if (unknownSections.length > 0) {
    const sections = settingSections.join(', ');
    problems.push(
      unknownSections.map((name) => `${name}: unknown section (the sections are ${sections})`).join('; '),
    );
  }
  return { document, problems };
}

function isMapping(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const shownLengthMax = 60;

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > shownLengthMax ? `${text.slice(0, shownLengthMax)}…` : text;
}
