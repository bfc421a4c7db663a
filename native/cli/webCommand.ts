import path from 'node:path';
import { Engine } from '../api/engine.js';
import { intOption, type Command } from './command.js';
import { resolveToken, stateDirFrom, trustOptions } from './common.js';
import { projectRoot } from '../util/selfCommand.js';
import { generateWebToken } from '../web/originGuard.js';
import { WebServer } from '../web/webServer.js';

export const DEFAULT_WEB_PORT = 47810;

export const webCommand: Command = {
  name: 'web',
  summary:
    'Serve the app in a browser (browser mode): the UI and its API on 127.0.0.1, behind a token.',
  usage: 'web [--port PORT] [--host ADDR] [options]',
  options: {
    port: {
      type: 'string',
      valueName: 'port',
      description: `HTTP port (default ${DEFAULT_WEB_PORT}; 0 picks a free one)`,
    },
    host: {
      type: 'string',
      valueName: 'addr',
      description:
        'address to bind (default 127.0.0.1; anything else exposes the app to the network)',
    },
    'no-local-agent': {
      type: 'boolean',
      description: 'do not run an agent for this machine inside the app (this run only)',
    },
    'agent-interface': {
      type: 'string',
      valueName: 'iface',
      description: 'interface for the embedded agent (default $PIPEFITTER_INTERFACE, else all)',
    },
    'agent-port': {
      type: 'string',
      valueName: 'port',
      description: 'control port for the embedded agent (default 47801; 0 picks free ports)',
    },
    peer: {
      type: 'string',
      multiple: true,
      valueName: 'host:port',
      description: 'also add this agent by address (repeatable)',
    },
    'static-dir': {
      type: 'string',
      valueName: 'dir',
      description: 'the built UI to serve (default dist/renderer)',
    },
    json: { type: 'boolean', description: 'print the ready line as JSON' },
    ...trustOptions,
  },
  async run(values) {
    const stateDir = stateDirFrom(values);
    const token = resolveToken(values, stateDir);
    const host = (values.host as string | undefined) ?? '127.0.0.1';
    const beaconPort = intOption(values['beacon-port'], 'beacon-port', 1, 65535);
    const engine = new Engine({
      stateDir,
      token,
      cluster: values.cluster as string | undefined,
      beaconPort,
      peers: values.peer as string[] | undefined,
      localAgent: values['no-local-agent'] === true ? false : undefined,
      agentInterface:
        (values['agent-interface'] as string | undefined) ?? process.env.PIPEFITTER_INTERFACE,
      agentPort: intOption(values['agent-port'], 'agent-port', 0, 65534),
      onLog: process.env.PIPEFITTER_DEBUG ? (l) => process.stderr.write(`${l}\n`) : undefined,
    });
    const server = new WebServer({
      api: engine.api,
      token: generateWebToken(),
      staticDir:
        (values['static-dir'] as string | undefined) ??
        path.join(projectRoot(), 'dist', 'renderer'),
      host,
      port: intOption(values.port, 'port', 0, 65535) ?? DEFAULT_WEB_PORT,
      onLog: (l) => process.stderr.write(`web: ${l}\n`),
    });
    await engine.start();
    try {
      await server.listen();
    } catch (err) {
      await engine.stop();
      const e = err as NodeJS.ErrnoException;
      throw new Error(
        e.code === 'EADDRINUSE'
          ? `port ${values.port ?? DEFAULT_WEB_PORT} is in use (another "pipefitter web"?); pick one with --port, or --port 0`
          : e.message,
      );
    }
    if (values.json) {
      process.stdout.write(
        JSON.stringify({ event: 'ready', url: server.url, port: server.port }) + '\n',
      );
    } else {
      process.stdout.write(`Pipefitter is running in browser mode: ${server.url}\n`);
      if (!['127.0.0.1', 'localhost', '::1'].includes(host))
        process.stderr.write(
          `Warning: bound to ${host}, so other machines can reach this page; only the token protects it, over plain HTTP.\n`,
        );
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await server.close();
    await engine.stop();
    return 0;
  },
};
