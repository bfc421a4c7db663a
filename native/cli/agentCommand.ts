import { RunHost } from '../runs/runHost.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bestBackend } from '../backend/probe.js';
import { Agent } from '../agent/agent.js';
import { intOption, UsageError, type Command } from './command.js';
import { resolveToken, stateDirFrom, trustOptions } from './common.js';

export const agentCommand: Command = {
  name: 'agent',
  summary:
    'Run the Pipefitter agent: announce this machine on the LAN and serve its inventory, telemetry and compute.',
  usage: 'agent [options]',
  options: {
    name: {
      type: 'string',
      valueName: 'name',
      description: 'name shown in the app (default: hostname)',
    },
    port: {
      type: 'string',
      valueName: 'port',
      description: 'control port (default 47801; 0 picks free ports)',
    },
    'telemetry-port': {
      type: 'string',
      valueName: 'port',
      description: 'telemetry port (default control port + 1)',
    },
    interface: {
      type: 'string',
      valueName: 'iface',
      description: 'interface name or address to bind and announce on (default: all)',
    },
    advertise: {
      type: 'string',
      valueName: 'addr',
      description: 'address to announce instead of the interface address',
    },
    'beacon-to': {
      type: 'string',
      multiple: true,
      valueName: 'addr',
      description: 'also send beacons to this address by unicast (repeatable)',
    },
    'no-benchmark': {
      type: 'boolean',
      description: 'do not measure speed automatically at first start',
    },
    'nvidia-smi': {
      type: 'string',
      valueName: 'path',
      description: 'nvidia-smi binary to query (default: from PATH)',
    },
    json: { type: 'boolean', description: 'print events as JSON lines' },
    'exit-with-stdin': {
      type: 'boolean',
      description: 'stop when standard input closes (for a parent process that starts the agent)',
    },
    'remove-state-dir': {
      type: 'boolean',
      description:
        'remove the state dir (keys included) when the agent exits: for throwaway agents under the temp dir',
    },
    ...trustOptions,
  },
  async run(values) {
    const stateDir = stateDirFrom(values);
    if (values['remove-state-dir']) {
      const tmp = path.resolve(os.tmpdir()) + path.sep;
      if (!path.resolve(stateDir).startsWith(tmp))
        throw new UsageError(`--remove-state-dir only removes a dir under ${tmp}, not ${stateDir}`);
      // On every exit but SIGKILL (a clean stop, an uncaught error): its secret keys must not stay on disk.
      process.once('exit', () => fs.rmSync(stateDir, { recursive: true, force: true }));
    }
    const token = resolveToken(values, stateDir);
    const agent = new Agent({
      stateDir,
      token,
      name: values.name as string | undefined,
      port: intOption(values.port, 'port', 0, 65534),
      telemetryPort: intOption(values['telemetry-port'], 'telemetry-port', 0, 65535),
      interface: values.interface as string | undefined,
      advertise: values.advertise as string | undefined,
      cluster: values.cluster as string | undefined,
      beaconPort: intOption(values['beacon-port'], 'beacon-port', 1, 65535),
      beaconTargets: values['beacon-to'] as string[] | undefined,
      autoBenchmark: values['no-benchmark'] !== true,
      nvidiaSmi: values['nvidia-smi'] as string | undefined,
    });
    // The agent drives runs too, so a run outlives the app or the CLI that started it.
    const runHost = new RunHost({
      stateDir,
      token,
      cluster: agent.cluster,
      self: { nodeId: agent.nodeId, name: agent.name },
      log: (line) => process.stderr.write(`${line}\n`),
    });
    agent.setRunHost(runHost);
    const json = values.json === true;
    agent.on('log', (line) => process.stderr.write(`${line}\n`));
    agent.on('backends', (reports) => {
      const best = bestBackend(reports);
      if (json)
        process.stdout.write(JSON.stringify({ event: 'backends', best, backends: reports }) + '\n');
      else {
        process.stdout.write(`compute backend: ${best ?? 'none works'}\n`);
        for (const r of reports.filter((x) => !x.available))
          process.stdout.write(`  ${r.name} unavailable: ${r.reason}\n`);
      }
    });
    await agent.start();
    await runHost.start();
    const ready = {
      event: 'ready',
      nodeId: agent.nodeId,
      name: agent.name,
      cluster: agent.cluster,
      controlPort: agent.controlPort,
      telemetryPort: agent.telemetryPort,
      pid: process.pid,
    };
    process.stdout.write(
      json
        ? JSON.stringify(ready) + '\n'
        : `pipefitter agent "${agent.name}" (${agent.nodeId}) in cluster "${agent.cluster}": control port ${agent.controlPort}, telemetry port ${agent.telemetryPort}\n`,
    );
    await new Promise<void>((resolve) => {
      const shutdown = () => resolve();
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
      // A parent that dies, however it dies, closes our stdin: the agent must not outlive it.
      if (values['exit-with-stdin']) {
        process.stdin.on('end', shutdown).on('close', shutdown).resume();
      }
    });
    await agent.stop();
    if (json)
      process.stdout.write(JSON.stringify({ event: 'stopped', nodeId: agent.nodeId }) + '\n');
    return 0;
  },
};
