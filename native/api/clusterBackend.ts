import { EventEmitter } from 'node:events';
import type { Coordinator } from '../coordinator/coordinator.js';
import { DEFAULT_BEACON_PORT } from '../discovery/beacon.js';
import { linkRows } from '../coordinator/linkRows.js';
import { designerHandlers } from './designerBackend.js';
import type { LocalAgent } from './localAgent.js';
import { NodeEventEncoder } from './nodeEvents.js';
import type { ApiEvent } from './schemas.js';
import type { RunOperationName } from './runOperations.js';
import type { ApiBackendPart, ApiHandlers } from './server.js';
import type { OperationName } from './operationNames.js';
import type { SettingsStore } from './settingsStore.js';
import { ApiError } from './validate.js';

export interface ClusterBackendDeps {
  coordinator: Coordinator;
  token: string;
  beaconPort?: number;
  localAgent: LocalAgent;
  settings: SettingsStore;
  /** Where the designer keeps saved plans (`<state-dir>/plans`). */
  plansDir: string;
}

/** The command a person runs on another workstation to join this lab, with every non-default flag. */
export function joinCommand(token: string, cluster: string, beaconPort: number): string {
  const parts = ['pipefitter agent', `--token ${token}`];
  if (cluster !== 'default') parts.push(`--cluster ${cluster}`);
  if (beaconPort !== DEFAULT_BEACON_PORT) parts.push(`--beacon-port ${beaconPort}`);
  return parts.join(' ');
}

/** The API over the real engine: the coordinator's registry, its actions, and the embedded agent. */
export function clusterBackend(
  deps: ClusterBackendDeps,
): ApiBackendPart<Exclude<OperationName, RunOperationName>> {
  const { coordinator, localAgent, settings } = deps;
  const events = new EventEmitter<{ event: [ApiEvent] }>();
  const encoder = new NodeEventEncoder();
  coordinator.on('change', (c) => {
    if (c.kind === 'removed') {
      encoder.forget(c.id);
      events.emit('event', { type: 'nodeRemoved', id: c.id });
    } else events.emit('event', encoder.encode(c.node));
  });
  localAgent.on('status', (status) => events.emit('event', { type: 'localAgent', status }));
  coordinator.on('strangers', (strangers) =>
    events.emit('event', { type: 'strangers', strangers }),
  );

  const applyLocalAgent = async (on: boolean) => {
    if (on) localAgent.start();
    else await localAgent.stop();
  };

  const handlers: Omit<ApiHandlers, RunOperationName> = {
    ...designerHandlers({
      nodes: () => coordinator.nodes(),
      links: () => coordinator.measuredLinks(),
      // A person waits on Auto-partition: pairs left after 3 s are planned at the default link.
      measureLinks: (ids) => coordinator.measureLinks(ids, { budgetMs: 3000 }),
      plansDir: deps.plansDir,
    }),
    async listNodes() {
      return {
        nodes: coordinator.nodes(),
        serverTime: Date.now(),
        strangers: coordinator.strangers(),
      };
    },
    async listLinks() {
      const nodes = coordinator.nodes();
      const { rows, total } = linkRows(nodes, coordinator.measuredLinkEntries(nodes));
      return { links: rows, total };
    },
    async addMachine({ address }) {
      return { node: await coordinator.addPeer(address) };
    },
    async benchmarkNode({ id }) {
      if (!coordinator.registry.get(id))
        throw new ApiError('bad-request', `no machine with id ${id}`);
      const speed = await coordinator.benchmark(id);
      // "Measure" means now: the machine's links to the other computers are timed again too.
      await coordinator.measureLinks(
        coordinator.nodes().map((n) => n.id),
        { involving: id, force: true },
      );
      return { speed };
    },
    async joinInfo() {
      const beaconPort = deps.beaconPort ?? DEFAULT_BEACON_PORT;
      return {
        token: deps.token,
        cluster: coordinator.cluster,
        beaconPort,
        command: joinCommand(deps.token, coordinator.cluster, beaconPort),
        localAgent: localAgent.status,
      };
    },
    async getSettings() {
      return settings.get();
    },
    async setSettings(patch) {
      const before = settings.get();
      const after = settings.update(patch);
      if (after.localAgent !== before.localAgent) await applyLocalAgent(after.localAgent);
      return after;
    },
  };

  return {
    handlers,
    subscribe(listener) {
      events.on('event', listener);
      return () => events.off('event', listener);
    },
  };
}
