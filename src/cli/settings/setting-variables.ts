// The environment variable of a flag: UNDERSTUDY_ and the flag's long name in capitals, its dashes
// made underscores (--snapshot-log-bytes: UNDERSTUDY_SNAPSHOT_LOG_BYTES). One rule for every command,
// the server commands' settings and the client commands' --coordinator and --cluster-id alike.

export const settingVariablePrefix = 'UNDERSTUDY_';

/** The long flag's name: `--snapshot-log-bytes <n>` → `snapshot-log-bytes`. */
function longName(flags: string): string {
  const name = /--([a-z0-9-]+)/.exec(flags)?.[1];
  if (name === undefined) throw new Error(`no long flag in ${flags}`);
  return name;
}

export function variableOfFlags(flags: string): string {
  return `${settingVariablePrefix}${longName(flags).toUpperCase().replaceAll('-', '_')}`;
}
