// A server command's settings on its command line: a flag per setting of the table, each with its
// environment variable, plus `--config FILE`. Precedence, highest first: flag, variable, file, default.
// Commander reads the flags and the variables (and keeps the source of each value); just before the
// action runs, a hook reads the config file and fills in every setting that neither a flag nor a
// variable set, then checks that the required ones are there. The action sees one object of values,
// as it did when flags were the only source.
//
// The variable of a setting is UNDERSTUDY_ and its flag's name in capitals, dashes made underscores
// (setting-variables.ts): --snapshot-log-bytes is UNDERSTUDY_SNAPSHOT_LOG_BYTES, --config is
// UNDERSTUDY_CONFIG. A switch
// (--new-cluster) has none: it says something once, on purpose, and a variable left set would say it
// again at every start.

import { type Command, Option } from 'commander';
import { exitCode } from '../options.js';
import type { ConfigDocument } from './config-file.js';
import { type ServerCommand, type Setting, serverSettings, settingSections } from './server-settings.js';
import { flagParser } from './setting-value.js';
import { settingVariablePrefix, variableOfFlags } from './setting-variables.js';

const configFlags = '--config <file>';

/** The environment variable of a setting, or null for a switch. */
export function variableOf(setting: Setting): string | null {
  return setting.value.isSwitch === true ? null : variableOfFlags(setting.flags);
}

export const configVariable = variableOfFlags(configFlags);

/** Every variable a server command reads: `start` keeps them from the processes it launches. */
export function settingVariables(): Set<string> {
  const names = serverSettings.map(variableOf).filter((name) => name !== null);
  return new Set([...names, configVariable]);
}

/** The settings of a command, its own section first (the order of its --help). */
export function settingsOf(command: ServerCommand): Setting[] {
  const order = [command, ...settingSections.filter((section) => section !== command)];
  return serverSettings
    .filter((setting) => setting.commands.includes(command))
    .sort((a, b) => order.indexOf(a.section) - order.indexOf(b.section));
}

function optionOf(setting: Setting): Option {
  const option = new Option(setting.flags, setting.help);
  const { value } = setting;
  if (value.choices !== undefined) option.choices(value.choices);
  if (value.isSwitch !== true) option.argParser(flagParser(value));
  const variable = variableOf(setting);
  if (variable !== null) option.env(variable);
  if (setting.defaultValue !== undefined) option.default(setting.defaultValue);
  if (setting.conflicts !== undefined) option.conflicts(setting.conflicts);
  return option;
}

/** Adds the command's settings (and --config) to it; see the top of this file. */
export function addSettings(command: Command, name: ServerCommand): Command {
  const options = settingsOf(name).map((setting) => {
    const option = optionOf(setting);
    command.addOption(option);
    return { setting, option };
  });
  command.addOption(
    new Option(
      configFlags,
      `read settings from this JSON or YAML file (flags and ${settingVariablePrefix}* variables override it; see understudy config --defaults)`,
    ).env(configVariable),
  );
  command.hook('preAction', async (thisCommand) => {
    const usage = (message: string): never =>
      thisCommand.error(`error: ${message}`, { exitCode: exitCode.usage, code: 'understudy.config' });
    const file: unknown = thisCommand.getOptionValue('config');
    if (typeof file === 'string') {
      // Loaded only for a file: the yaml library costs a start some 40 ms.
      const { readConfigFile } = await import('./config-file.js');
      let document: ConfigDocument = {};
      try {
        document = readConfigFile(file);
      } catch (error) {
        usage((error as Error).message);
      }
      for (const { setting, option } of options) {
        const attribute = option.attributeName();
        const source = thisCommand.getOptionValueSource(attribute);
        if (source === 'cli' || source === 'env') continue;
        const value = document[setting.section]?.[setting.key];
        if (value !== undefined) thisCommand.setOptionValueWithSource(attribute, value, 'config');
      }
    }
    for (const { setting, option } of options) {
      if (setting.required !== true || thisCommand.getOptionValue(option.attributeName()) !== undefined)
        continue;
      usage(
        `required option '${setting.flags}' not specified (nor ${setting.section}.${setting.key} in --config, ` +
          `nor ${variableOf(setting)})`,
      );
    }
  });
  return command;
}
