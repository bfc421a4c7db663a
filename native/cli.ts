import { agentCommand } from './cli/agentCommand.js';
import { backendWorkerCommand } from './cli/backendWorkerCommand.js';
import { commandHelp, parseCommandArgs, UsageError, type Command } from './cli/command.js';
import { nodesCommand } from './cli/nodesCommand.js';
import { runCommand, runsCommand } from './cli/runsCommand.js';
import { stageHostCommand } from './cli/stageHostCommand.js';
import { trainCommand } from './cli/trainCommand.js';
import { planCommand } from './cli/planCommand.js';
import { webCommand } from './cli/webCommand.js';
import { AGENT_VERSION } from './version.js';

const commands: Command[] = [
  agentCommand,
  nodesCommand,
  planCommand,
  trainCommand,
  runsCommand,
  runCommand,
  webCommand,
  backendWorkerCommand,
  stageHostCommand,
];

function mainHelp(): string {
  const visible = commands.filter((c) => !c.hidden);
  const width = Math.max(...visible.map((c) => c.name.length)) + 2;
  return [
    'Usage: pipefitter <command> [options]',
    '',
    "Pipeline-parallel training across the lab's workstations.",
    '',
    'Commands:',
    ...visible.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run "pipefitter <command> --help" for a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp() + '\n');
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`pipefitter: unknown command "${name}"\n\n${mainHelp()}\n`);
    return 2;
  }
  try {
    const { values, positionals } = parseCommandArgs(cmd, rest);
    if (values.help) {
      process.stdout.write(commandHelp(cmd) + '\n');
      return 0;
    }
    return await cmd.run(values, positionals);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`pipefitter ${cmd.name}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`pipefitter ${cmd.name}: ${(err as Error).message}\n`);
    return 1;
  }
}
