// `understudy config --defaults`: every setting of the server commands with its default, as a config
// file (YAML with each setting's help, flag and variable in a comment above it; `--json` for JSON).
// Printed from the settings table itself, so it cannot drift from what the commands accept, and what
// it prints is a valid --config file (null: not set).

import type { Command } from 'commander';
import { variableOf } from './settings/command-settings.js';
import { defaultSettings, serverSettings } from './settings/server-settings.js';

const commentWidth = 96;

const header = [
  " Understudy's settings with their defaults (understudy config --defaults); null: not set.",
  ' Give a file like this one to `coordinator`, `replica` or `start` with --config FILE (YAML, or',
  ' JSON when its name ends in .json). Each command reads its own section, `cluster` and `log`',
  ' (`start` also reads what its replicas share from `replica`) and leaves the rest, so one file can',
  ' describe a whole cluster. Precedence: flags, then UNDERSTUDY_* variables, then the file, then these.',
].join('\n');

export function addConfigCommand(program: Command): void {
  program
    .command('config')
    .description('print the settings of the server commands (coordinator, replica, start)')
    .requiredOption('--defaults', 'every setting with its default, as a config file (YAML)')
    .option('--json', 'as JSON')
    .action(async (flags: { readonly json?: boolean }) => {
      const defaults = defaultSettings();
      process.stdout.write(
        flags.json === true ? `${JSON.stringify(defaults, null, 2)}\n` : await defaultsYaml(defaults),
      );
    });
}

async function defaultsYaml(defaults: ReturnType<typeof defaultSettings>): Promise<string> {
  // Loaded here, as by --config: the yaml library costs every other command's start some 40 ms.
  const { Document, isMap, isScalar } = await import('yaml');
  const document = new Document(defaults);
  document.commentBefore = header;
  const sections = document.contents;
  if (!isMap(sections)) throw new Error('the defaults are a mapping of sections');
  for (const [position, section] of sections.items.entries()) {
    const sectionKey = section.key;
    if (!isScalar(sectionKey) || !isMap(section.value)) continue;
    sectionKey.spaceBefore = position > 0;
    for (const pair of section.value.items) {
      const key = pair.key;
      if (!isScalar(key)) continue;
      const setting = serverSettings.find(
        (candidate) => candidate.section === sectionKey.value && candidate.key === key.value,
      );
      if (setting !== undefined) key.commentBefore = commentOf(setting);
    }
  }
  return document.toString({ lineWidth: 0 });
}

function commentOf(setting: (typeof serverSettings)[number]): string {
  const variable = variableOf(setting);
  const where = [setting.flags.split(' ')[0], ...(variable === null ? [] : [variable])].join(', ');
  const takes = `${setting.value.expected}${setting.required === true ? '; required' : ''}`;
  const lines = wrap(`${setting.help}. ${where}; ${takes}; read by ${setting.commands.join(', ')}.`);
  return lines.map((line) => ` ${line}`).join('\n');
}

function wrap(text: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > commentWidth) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
