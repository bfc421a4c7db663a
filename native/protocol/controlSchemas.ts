import { z } from 'zod';
import { BackendPreferenceSchema } from '../common/schemas.js';
import { Capability, ControlType, ErrorCode } from './version.js';
import { InventorySchema, SpeedReportSchema } from './inventorySchemas.js';
import { MAX_LINK_ECHO_CHARS } from './limits.js';

const Envelope = { v: z.number().int(), id: z.string().min(1).max(64) };
const CurvePublicKeySchema = z.string().regex(/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/);

export const HelloRequestSchema = z
  .object({ ...Envelope, type: z.literal(ControlType.Hello) })
  .strict();
/** Asks the agent to trust this coordinator's own key from now on, so it can connect without the token. */
export const JoinRequestSchema = z
  .object({
    ...Envelope,
    type: z.literal(ControlType.Join),
    publicKey: CurvePublicKeySchema,
  })
  .strict();
export const PingRequestSchema = z
  .object({ ...Envelope, type: z.literal(ControlType.Ping), sentAt: z.number() })
  .strict();
export const InventoryRequestSchema = z
  .object({ ...Envelope, type: z.literal(ControlType.Inventory) })
  .strict();
export const BenchmarkRequestSchema = z
  .object({
    ...Envelope,
    type: z.literal(ControlType.Benchmark),
    force: z.boolean().default(false),
  })
  .strict();

export const StageSpawnRequestSchema = z
  .object({
    ...Envelope,
    type: z.literal(ControlType.StageSpawn),
    runId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    stageIndex: z.number().int().nonnegative().max(1023),
    /** Which replica of the stage (data parallelism): each is a process of its own. */
    replica: z.number().int().nonnegative().max(64).default(0),
    backend: BackendPreferenceSchema.default('auto'),
    /** Pin the stage to this GPU (CUDA_VISIBLE_DEVICES); absent: the process sees every GPU. */
    gpu: z.number().int().nonnegative().optional(),
    /** Rows per micro-batch: the agent picks the backend measured fastest at this size. */
    rows: z.number().int().positive().max(1_000_000).optional(),
  })
  .strict();
export const StageStopRequestSchema = z
  .object({
    ...Envelope,
    type: z.literal(ControlType.StageStop),
    runId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  })
  .strict();

/** Asked when a stage's connection drops: the agent waits up to `waitMs` for the process to end. */
export const StageStatusRequestSchema = z
  .object({
    ...Envelope,
    type: z.literal(ControlType.StageStatus),
    runId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    stageIndex: z.number().int().nonnegative().max(1023),
    replica: z.number().int().nonnegative().max(64).default(0),
    waitMs: z.number().int().nonnegative().max(5000).default(0),
  })
  .strict();

const RunIdSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);

/**
 * The plan, settings and model travel as JSON and are validated by the run host (plan files, run
 * settings and model specs have their own schemas above this layer); the message size bounds them.
 */
export const RunStartRequestSchema = z
  .object({
    ...Envelope,
    type: z.literal(ControlType.RunStart),
    plan: z.unknown(),
    settings: z.unknown(),
    model: z.unknown(),
    /** Agents the driver should reach ("host:port"): the run's machines and the others online. */
    peers: z.array(z.string().min(1).max(300)).max(256).default([]),
  })
  .strict();
export const RunListRequestSchema = z
  .object({ ...Envelope, type: z.literal(ControlType.RunList) })
  .strict();
export const RunRecordsRequestSchema = z
  .object({
    ...Envelope,
    type: z.literal(ControlType.RunRecords),
    runId: RunIdSchema,
    from: z.number().int().nonnegative(),
    /** With nothing new, wait this long for a record before answering (a long poll). */
    waitMs: z.number().int().nonnegative().max(5000).default(0),
  })
  .strict();
export const RunStopRequestSchema = z
  .object({ ...Envelope, type: z.literal(ControlType.RunStop), runId: RunIdSchema })
  .strict();
export const RUN_FILE_NAMES = ['model.json', 'weights.bin'] as const;
export const RunFileRequestSchema = z
  .object({
    ...Envelope,
    type: z.literal(ControlType.RunFile),
    runId: RunIdSchema,
    name: z.enum(RUN_FILE_NAMES),
    offset: z.number().int().nonnegative(),
  })
  .strict();
export const RunStandbyRequestSchema = z
  .object({
    ...Envelope,
    type: z.literal(ControlType.RunStandby),
    runId: RunIdSchema,
    /** The agent driving the run (the standby follows its records and copies its checkpoints). */
    driver: z.object({ nodeId: z.string().min(1).max(64), name: z.string().max(200) }).strict(),
    /** Agents the standby should reach ("host:port"): the driver and the run's machines. */
    peers: z.array(z.string().min(1).max(300)).max(256).default([]),
  })
  .strict();
export const RunCheckpointRequestSchema = z
  .object({
    ...Envelope,
    type: z.literal(ControlType.RunCheckpoint),
    runId: RunIdSchema,
    step: z.number().int().nonnegative(),
    stage: z.number().int().nonnegative().max(1023),
    offset: z.number().int().nonnegative(),
  })
  .strict();
export const RunResumeRequestSchema = z
  .object({ ...Envelope, type: z.literal(ControlType.RunResume), runId: RunIdSchema })
  .strict();
export const RunReplanRequestSchema = z
  .object({ ...Envelope, type: z.literal(ControlType.RunReplan), runId: RunIdSchema })
  .strict();

/** Bytes another agent sends to time the link; only their size comes back, so the rate is one way. */
export const LinkEchoRequestSchema = z
  .object({
    ...Envelope,
    type: z.literal(ControlType.LinkEcho),
    data: z
      .string()
      .max(MAX_LINK_ECHO_CHARS, {
        error: (issue) =>
          `${String((issue.input as string).length)} characters, more than the ${MAX_LINK_ECHO_CHARS} a link.echo may carry`,
      })
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
  })
  .strict();
/** The agent to measure the link to, as the coordinator reaches it. */
export const LinkPeerSchema = z
  .object({
    host: z.string().regex(/^[A-Za-z0-9.:%-]{1,253}$/, 'must be a host name or an IP address'),
    controlPort: z.number().int().min(1).max(65535),
    publicKey: CurvePublicKeySchema,
  })
  .strict();
export type LinkPeer = z.infer<typeof LinkPeerSchema>;
export const LinkMeasureRequestSchema = z
  .object({ ...Envelope, type: z.literal(ControlType.LinkMeasure), peer: LinkPeerSchema })
  .strict();

export const ControlRequestSchema = z.discriminatedUnion('type', [
  HelloRequestSchema,
  JoinRequestSchema,
  PingRequestSchema,
  InventoryRequestSchema,
  BenchmarkRequestSchema,
  StageSpawnRequestSchema,
  StageStopRequestSchema,
  StageStatusRequestSchema,
  RunStartRequestSchema,
  RunListRequestSchema,
  RunRecordsRequestSchema,
  RunStopRequestSchema,
  RunFileRequestSchema,
  RunStandbyRequestSchema,
  RunCheckpointRequestSchema,
  RunResumeRequestSchema,
  RunReplanRequestSchema,
  LinkEchoRequestSchema,
  LinkMeasureRequestSchema,
]);
export type ControlRequest = z.infer<typeof ControlRequestSchema>;
/** The requests a run host answers (the agent hands them on). */
export const RUN_CONTROL_TYPES = [
  ControlType.RunStart,
  ControlType.RunList,
  ControlType.RunRecords,
  ControlType.RunStop,
  ControlType.RunFile,
  ControlType.RunStandby,
  ControlType.RunCheckpoint,
  ControlType.RunResume,
  ControlType.RunReplan,
] as const;
export type RunControlRequest = Extract<
  ControlRequest,
  { type: (typeof RUN_CONTROL_TYPES)[number] }
>;
export function isRunControlRequest(r: ControlRequest): r is RunControlRequest {
  return (RUN_CONTROL_TYPES as readonly ControlType[]).includes(r.type);
}

export const HelloResultSchema = z.object({
  protocolVersion: z.number().int(),
  nodeId: z.string(),
  name: z.string(),
  cluster: z.string(),
  capabilities: z.array(z.enum(Capability)),
  telemetryPort: z.number().int(),
  agentVersion: z.string(),
  /** When the agent process started (ms since the epoch); absent from agents before link measurement. */
  startedAt: z.number().int().nonnegative().optional(),
});
export type HelloResult = z.infer<typeof HelloResultSchema>;
export const JoinResultSchema = z.object({ authorized: z.literal(true) });
export const PingResultSchema = z.object({ sentAt: z.number(), agentTime: z.number() });
export const InventoryResultSchema = InventorySchema;
export const BenchmarkResultSchema = SpeedReportSchema;
export const StageSpawnResultSchema = z.object({ port: z.number().int(), pid: z.number().int() });
export const StageStopResultSchema = z.object({ stopped: z.number().int() });
export const StageStatusResultSchema = z.object({
  /** `unknown`: this agent has no such stage (never started, or forgotten). */
  state: z.enum(['running', 'exited', 'unknown']),
  code: z.number().int().nullable(),
  signal: z.string().max(32).nullable(),
  /** The last line the process wrote on stderr, if any. */
  lastError: z.string().max(500).nullable(),
});
/** Records and summaries are checked by the receiver against the run schemas (a layer above). */
export const RunStartResultSchema = z.object({ runId: RunIdSchema });
export const RunListResultSchema = z.object({ runs: z.array(z.unknown()).max(10_000) });
export const RunRecordsResultSchema = z.object({
  records: z.array(z.unknown()),
  /** The sequence number to ask from next. */
  next: z.number().int().nonnegative(),
  /** Whether more records may come (the run has not ended). */
  live: z.boolean(),
});
export const RunStopResultSchema = z.object({ status: z.string().max(32) });
export const RunFileResultSchema = z.object({
  /** Base64 of the bytes from `offset`. */
  data: z.string(),
  total: z.number().int().nonnegative(),
  /** Where the next chunk starts, or null at the end. */
  next: z.number().int().nonnegative().nullable(),
});
export const RunStandbyResultSchema = z.object({ accepted: z.literal(true) });
export const RunCheckpointResultSchema = RunFileResultSchema;
export const RunResumeResultSchema = z.object({ runId: RunIdSchema, fromStep: z.number().int() });
/** What the re-plan will do (or why there is nothing to do), in words. */
export const RunReplanResultSchema = z.object({ message: z.string().max(2000) });
export const LinkEchoResultSchema = z.object({ chars: z.number().int().nonnegative() });
/** One direction's figures stand for both: the planner's links are symmetric. */
export const LinkMeasureResultSchema = z.object({
  latencySeconds: z.number().positive().max(60),
  bytesPerSecond: z.number().positive().max(1e13),
});
export type LinkMeasurement = z.infer<typeof LinkMeasureResultSchema>;

export interface ResultTypes {
  [ControlType.Hello]: z.infer<typeof HelloResultSchema>;
  [ControlType.Join]: z.infer<typeof JoinResultSchema>;
  [ControlType.Ping]: z.infer<typeof PingResultSchema>;
  [ControlType.Inventory]: z.infer<typeof InventoryResultSchema>;
  [ControlType.Benchmark]: z.infer<typeof BenchmarkResultSchema>;
  [ControlType.StageSpawn]: z.infer<typeof StageSpawnResultSchema>;
  [ControlType.StageStop]: z.infer<typeof StageStopResultSchema>;
  [ControlType.StageStatus]: z.infer<typeof StageStatusResultSchema>;
  [ControlType.RunStart]: z.infer<typeof RunStartResultSchema>;
  [ControlType.RunList]: z.infer<typeof RunListResultSchema>;
  [ControlType.RunRecords]: z.infer<typeof RunRecordsResultSchema>;
  [ControlType.RunStop]: z.infer<typeof RunStopResultSchema>;
  [ControlType.RunFile]: z.infer<typeof RunFileResultSchema>;
  [ControlType.RunStandby]: z.infer<typeof RunStandbyResultSchema>;
  [ControlType.RunCheckpoint]: z.infer<typeof RunCheckpointResultSchema>;
  [ControlType.RunResume]: z.infer<typeof RunResumeResultSchema>;
  [ControlType.RunReplan]: z.infer<typeof RunReplanResultSchema>;
  [ControlType.LinkEcho]: z.infer<typeof LinkEchoResultSchema>;
  [ControlType.LinkMeasure]: LinkMeasurement;
}

export const ResultSchemas = {
  [ControlType.Hello]: HelloResultSchema,
  [ControlType.Join]: JoinResultSchema,
  [ControlType.Ping]: PingResultSchema,
  [ControlType.Inventory]: InventoryResultSchema,
  [ControlType.Benchmark]: BenchmarkResultSchema,
  [ControlType.StageSpawn]: StageSpawnResultSchema,
  [ControlType.StageStop]: StageStopResultSchema,
  [ControlType.StageStatus]: StageStatusResultSchema,
  [ControlType.RunStart]: RunStartResultSchema,
  [ControlType.RunList]: RunListResultSchema,
  [ControlType.RunRecords]: RunRecordsResultSchema,
  [ControlType.RunStop]: RunStopResultSchema,
  [ControlType.RunFile]: RunFileResultSchema,
  [ControlType.RunStandby]: RunStandbyResultSchema,
  [ControlType.RunCheckpoint]: RunCheckpointResultSchema,
  [ControlType.RunResume]: RunResumeResultSchema,
  [ControlType.RunReplan]: RunReplanResultSchema,
  [ControlType.LinkEcho]: LinkEchoResultSchema,
  [ControlType.LinkMeasure]: LinkMeasureResultSchema,
} as const;

export const ControlErrorSchema = z.object({ code: z.enum(ErrorCode), message: z.string() });
export type ControlError = z.infer<typeof ControlErrorSchema>;

export const ControlReplySchema = z.union([
  z.object({ v: z.number().int(), id: z.string(), ok: z.literal(true), result: z.unknown() }),
  z.object({
    v: z.number().int(),
    id: z.string().nullable(),
    ok: z.literal(false),
    error: ControlErrorSchema,
  }),
]);
export type ControlReply = z.infer<typeof ControlReplySchema>;
