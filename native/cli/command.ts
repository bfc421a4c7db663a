import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & {
  description: string;
  valueName?: string;
};

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Hidden commands are internal (worker processes) and not listed in help. */
  hidden?: boolean;
  run(
    values: Record<string, string | boolean | (string | boolean)[] | undefined>,
    positionals: string[],
  ): Promise<number>;
}

export class UsageError extends Error {}

export function commandHelp(cmd: Command): string {
  const lines = [`Usage: pipefitter ${cmd.usage}`, '', cmd.summary, '', 'Options:'];
  const entries = Object.entries({
    ...cmd.options,
    help: { type: 'boolean', short: 'h', description: 'show this help' } as OptionSpec,
  });
  const rows = entries.map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` <${o.valueName ?? 'value'}>` : ''}`;
    return [flag, o.description] as const;
  });
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  for (const [flag, desc] of rows) lines.push(`  ${flag.padEnd(width)}${desc}`);
  return lines.join('\n');
}

/** Parses argv for a command; unknown options and missing values become a UsageError with the help text. */
export function parseCommandArgs(cmd: Command, argv: string[]) {
  const options = Object.fromEntries(
    Object.entries({
      ...cmd.options,
      help: { type: 'boolean', short: 'h', description: '' } as OptionSpec,
    }).map(([k, o]) => {
      const { description: _d, valueName: _v, ...rest } = o;
      return [k, rest];
    }),
  );
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${commandHelp(cmd)}`);
  }
}

/** A numeric option within [min, max] (integers only when `integer`), or undefined when not given. */
function boundedNumber(
  value: unknown,
  name: string,
  min: number,
  max: number,
  integer: boolean,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(integer ? Number.isInteger(n) : Number.isFinite(n)) || n < min || n > max)
    throw new UsageError(
      `--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got "${String(value)}"`,
    );
  return n;
}

export const intOption = (value: unknown, name: string, min: number, max: number) =>
  boundedNumber(value, name, min, max, true);
export const numberOption = (value: unknown, name: string, min: number, max: number) =>
  boundedNumber(value, name, min, max, false);

/** A string option restricted to a set of values, with the set named in the error. */
export function choiceOption<T extends string>(
  value: unknown,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T))
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${String(value)}"`);
  return value as T;
}
