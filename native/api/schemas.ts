import { z } from 'zod';
import {
  InventorySchema,
  SpeedReportSchema,
  TelemetrySampleSchema,
} from '../protocol/inventorySchemas.js';
import { RunRecordSchema, RunSummarySchema } from '../runs/runSchemas.js';

/**
 * What the UI knows about one machine: the coordinator's NodeRecord, checked at the API boundary so a
 * change to the registry that the UI was not told about fails loudly in tests rather than silently in a
 * card.
 */
export const NodeStateSchema = z.enum([
  'connecting',
  'online',
  'unreachable',
  'offline',
  'refused',
]);

export const NodeViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  cluster: z.string(),
  endpoint: z.object({
    host: z.string(),
    controlPort: z.number().int(),
    publicKey: z.string(),
  }),
  addresses: z.array(z.string()),
  source: z.enum(['beacon', 'manual', 'config']),
  state: NodeStateSchema,
  stateReason: z.string().nullable(),
  conflict: z.string().nullable(),
  firstSeen: z.number(),
  lastSeen: z.number(),
  stateSince: z.number(),
  telemetryPort: z.number().int().nullable(),
  agentVersion: z.string().nullable(),
  inventory: InventorySchema.nullable(),
  telemetry: TelemetrySampleSchema.nullable(),
  speed: SpeedReportSchema.nullable(),
  rttMs: z.number().nullable(),
});
export type NodeView = z.infer<typeof NodeViewSchema>;
export type NodeState = z.infer<typeof NodeStateSchema>;

/**
 * A machine address as a person types it: host or host:port, IPv6 in brackets. Checked here, before
 * anything touches the network, so the UI can show the mistake at once.
 */
export const MachineAddressSchema = z
  .string()
  .trim()
  .min(1, 'enter an address, for example 192.168.1.20 or ws-07:47801')
  .max(260, 'that address is too long')
  .regex(
    /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/,
    'use host or host:port, for example 192.168.1.20 or ws-07:47801',
  );

export const LocalAgentStatusSchema = z.object({
  enabled: z.boolean(),
  state: z.enum(['off', 'starting', 'running', 'failed']),
  /** Node id once it is running, so the UI can mark "this machine". */
  nodeId: z.string().nullable(),
  /** Why it failed, in words (port in use, another agent already running…). */
  detail: z.string().nullable(),
});
export type LocalAgentStatus = z.infer<typeof LocalAgentStatusSchema>;

export const SettingsSchema = z.object({
  /** Run an agent for this workstation inside the app, so a single machine needs no set-up. */
  localAgent: z.boolean(),
});
export type Settings = z.infer<typeof SettingsSchema>;

export const JoinInfoSchema = z.object({
  token: z.string(),
  cluster: z.string(),
  beaconPort: z.number().int(),
  /** The exact command to run on another workstation. */
  command: z.string(),
  localAgent: LocalAgentStatusSchema,
});
export type JoinInfo = z.infer<typeof JoinInfoSchema>;

/** An address whose beacons did not prove the lab token: shown as one line, never as machines. */
export const StrangerSchema = z.object({
  address: z.string(),
  beacons: z.number().int().nonnegative(),
  firstSeen: z.number(),
  lastSeen: z.number(),
});
export type Stranger = z.infer<typeof StrangerSchema>;
export const StrangerListSchema = z.array(StrangerSchema).max(64);

/** Pushed to every subscriber. Batched by the transport; each event stands alone. */
export const ApiEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('nodeChanged'), node: NodeViewSchema }),
  /** Only a new live sample: the common case by far, so it carries none of the static inventory. */
  z.object({
    type: z.literal('nodeTelemetry'),
    id: z.string(),
    telemetry: TelemetrySampleSchema,
    lastSeen: z.number(),
    rttMs: z.number().nullable(),
  }),
  z.object({ type: z.literal('nodeRemoved'), id: z.string() }),
  z.object({ type: z.literal('localAgent'), status: LocalAgentStatusSchema }),
  z.object({ type: z.literal('strangers'), strangers: StrangerListSchema }),
  /** One record of a run as it is written to its file: every one is delivered, none coalesced. */
  z.object({ type: z.literal('runRecord'), runId: z.string(), record: RunRecordSchema }),
  z.object({ type: z.literal('runSummary'), run: RunSummarySchema }),
  z.object({ type: z.literal('runRemoved'), id: z.string() }),
]);
export type ApiEvent = z.infer<typeof ApiEventSchema>;

/** What crosses the boundary for a batch of events: the server clock lets the UI say "seen 4 s ago". */
export const ApiEventBatchSchema = z.object({
  serverTime: z.number(),
  events: z.array(ApiEventSchema).max(100_000),
});
export type ApiEventBatch = z.infer<typeof ApiEventBatchSchema>;

export const ApiErrorCodeSchema = z.enum([
  'unknown-operation',
  'bad-request',
  'failed',
  'bad-response',
  'forbidden',
  'disconnected',
  // Transports' own refusals: a file over the limit, too many calls or uploads at once.
  'too-large',
  'busy',
]);
export type ApiErrorCode = z.infer<typeof ApiErrorCodeSchema>;

/** Every call answers this envelope, on every transport, so errors keep their code and words. */
export const ApiResultSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({
    ok: z.literal(false),
    error: z.object({ code: ApiErrorCodeSchema, message: z.string() }),
  }),
]);
export type ApiResult<T = unknown> =
  { ok: true; value: T } | { ok: false; error: { code: ApiErrorCode; message: string } };
