import { z } from 'zod';
import { ModelSpecSchema } from '../model/spec.js';
import { MAX_CHUNKS } from '../common/names.js';
import { BackendPreferenceSchema, ScheduleKindSchema, SyncSchema } from '../common/schemas.js';
import { OptimizerSpecSchema } from './optimizer.js';

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/**
 * The routing id the coordinator's DEALER uses on every stage host; replica r of stage k's DEALERs use
 * `stage-k` (replica 0) or `stage-k.r`.
 */
export const COORDINATOR_ROUTING_ID = 'coordinator';
export const stageRoutingId = (k: number, replica = 0) =>
  replica === 0 ? `stage-${k}` : `stage-${k}.${replica}`;

/** Stage and replica of a routing id `stageRoutingId` made; null for anything else. */
export function parseStageRoutingId(id: string): { stage: number; replica: number } | null {
  const m = /^stage-(\d{1,4})(?:\.(\d{1,4}))?$/.exec(id);
  return m ? { stage: Number(m[1]), replica: m[2] === undefined ? 0 : Number(m[2]) } : null;
}

/** Most replicas of one stage (each is a process, and each gets a share of the micro-batches). */
export const MAX_REPLICAS = 64;

export const PeerSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  publicKey: z.string().regex(Z85_KEY),
});
export type Peer = z.infer<typeof PeerSchema>;

/** What the agent hands its stage-host child on stdin (one JSON line): keys and who to admit. */
export const StageHostBootSchema = z.object({
  runId: z.string().min(1).max(64),
  stageIndex: z.number().int().nonnegative(),
  /** Which replica of the stage this process is (data parallelism); 0 for a stage of one. */
  replica: z.number().int().nonnegative().max(MAX_REPLICAS).default(0),
  bindHost: z.string(),
  publicKey: z.string().regex(Z85_KEY),
  secretKey: z.string().regex(Z85_KEY),
  /** Coordinator keys to admit: the lab key and keys the agent trusts. */
  admit: z.array(z.string().regex(Z85_KEY)),
  backend: BackendPreferenceSchema.default('auto'),
  /** Set when the agent chose `backend` by measurement: which were measured and how fast. */
  backendWhy: z.string().max(2000).optional(),
  /** Where this stage keeps its checkpoints (in the agent's state folder); absent: it keeps none. */
  checkpointDir: z.string().max(4096).optional(),
});
export type StageHostBoot = z.infer<typeof StageHostBootSchema>;

export const ConfigureSchema = z.object({
  type: z.literal('configure'),
  id: z.string(),
  runId: z.string(),
  stageIndex: z.number().int().nonnegative(),
  stages: z.number().int().positive(),
  /** This process's replica of its stage. */
  replica: z.number().int().nonnegative().max(MAX_REPLICAS).default(0),
  /**
   * Each stage's replicas: how many, and (optional) their shares of the micro-batches, in proportion
   * to measured speed; absent shares: round robin. Absent: one replica a stage.
   */
  replicas: z
    .array(
      z.object({
        count: z.number().int().positive().max(MAX_REPLICAS),
        shares: z.array(z.number().positive()).max(MAX_REPLICAS).optional(),
      }),
    )
    .max(1024)
    .optional(),
  /** How the replicas keep their weights together (absent: every step). */
  sync: SyncSchema.default({ kind: 'every-step' }),
  model: ModelSpecSchema,
  /** Layers [start, end): the stage's only chunk, or its chunk 0. */
  start: z.number().int().nonnegative(),
  end: z.number().int().positive(),
  /**
   * Every chunk's layers [start, end), chunk 0 first (an interleaved schedule: chunk c of this stage
   * is virtual stage c·stages + stageIndex); absent: the one chunk [start, end).
   */
  chunks: z
    .array(z.object({ start: z.number().int().nonnegative(), end: z.number().int().positive() }))
    .min(1)
    .max(MAX_CHUNKS)
    .optional(),
  schedule: ScheduleKindSchema,
  microbatches: z.number().int().positive(),
  batch: z.number().int().positive(),
  optimizer: OptimizerSpecSchema,
  dataset: z.string().nullable(),
  seed: z.number().int(),
  /** Shapes of the weight frames that follow this header, in the stage's weight order. */
  weightShapes: z.array(z.array(z.number().int().nonnegative())),
  /**
   * Shapes of optimizer-state frames that follow the weight frames (a run resumed on another layout:
   * the state re-sliced from the stages' checkpoints, in StageExecutor.readOptimizerState's order).
   */
  optimizerStateShapes: z.array(z.array(z.number().int().nonnegative())).optional(),
  /** The neighbours' agent keys, admitted on the data socket. */
  peerKeys: z.array(z.string().regex(Z85_KEY)),
  /**
   * Start from this stage's checkpoint (a file this stage wrote, on this machine) instead of the
   * weight frames: weights and optimizer state. The SHA-256 is the one the run recorded.
   */
  resume: z
    .object({
      file: z.string().max(4096),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      step: z.number().int().nonnegative(),
    })
    .optional(),
});
export type Configure = z.infer<typeof ConfigureSchema>;

/** The layer ranges of a configured stage's chunks, chunk 0 first. */
export const chunkSlices = (cfg: Pick<Configure, 'start' | 'end' | 'chunks'>) =>
  cfg.chunks ?? [{ start: cfg.start, end: cfg.end }];

export const ConnectSchema = z.object({
  type: z.literal('connect'),
  id: z.string(),
  /** The next stage's replicas, in replica order (empty for the last stage). */
  next: z.array(PeerSchema).max(MAX_REPLICAS),
  /** The next replica of this stage round the all-reduce ring (its ring socket); null: no ring. */
  ring: PeerSchema.nullable().default(null),
});

export const TrainSchema = z.object({
  type: z.literal('train'),
  id: z.string(),
  firstStep: z.number().int().nonnegative(),
  steps: z.number().int().positive(),
  stepsPerEpoch: z.number().int().positive(),
  /** Validation after each epoch: this many batches of `valBatch` test samples. */
  valBatches: z.number().int().nonnegative(),
  valBatch: z.number().int().positive(),
  /** Save a checkpoint after every this many steps (0: none). */
  checkpointEvery: z.number().int().nonnegative().default(0),
});
export type Train = z.infer<typeof TrainSchema>;

export const WeightsRequestSchema = z.object({ type: z.literal('weights'), id: z.string() });
/** The bytes of this stage's checkpoint of `step` (for the driver's copy of it). */
export const CheckpointFileRequestSchema = z.object({
  type: z.literal('checkpointFile'),
  id: z.string(),
  step: z.number().int().nonnegative(),
});
/** Save a checkpoint every `every` steps counted from `from` steps done (the driver's measured choice). */
export const CheckpointEverySchema = z.object({
  type: z.literal('checkpointEvery'),
  id: z.string(),
  every: z.number().int().positive().max(1e9),
  from: z.number().int().nonnegative(),
});
export const StopSchema = z.object({ type: z.literal('stop'), id: z.string() });

export const StageRequestSchema = z.discriminatedUnion('type', [
  ConfigureSchema,
  ConnectSchema,
  TrainSchema,
  WeightsRequestSchema,
  CheckpointFileRequestSchema,
  CheckpointEverySchema,
  StopSchema,
]);
export type StageRequest = z.infer<typeof StageRequestSchema>;

/** Events a stage host streams to the coordinator while it trains. */
export type StageEvent =
  | {
      type: 'event';
      event: 'step';
      stage: number;
      step: number;
      loss: number | null;
      busyMs: number;
      commMs: number;
      totalMs: number;
      timings: { op: string; mb: number; chunk?: number; start: number; end: number }[];
    }
  | {
      type: 'event';
      event: 'validation';
      stage: number;
      epoch: number;
      loss: number;
      /** null where the loss has no accuracy (mean squared error). */
      accuracy: number | null;
      samples: number;
    }
  | { type: 'event'; event: 'done'; stage: number; steps: number }
  | {
      type: 'event';
      event: 'checkpoint';
      stage: number;
      /** Steps done: a run resumed from it goes on from this step. */
      step: number;
      file: string;
      bytes: number;
      sha256: string;
      /** ms the step loop waited (reading the tensors back), and ms writing took in the background. */
      copyMs: number;
      writeMs: number;
    }
  | { type: 'event'; event: 'log'; stage: number; message: string }
  /** Local SGD's outer step after `step` (replica 0 of stage 0 reports it for the run). */
  | { type: 'event'; event: 'outer'; stage: number; step: number; ms: number }
  | { type: 'event'; event: 'error'; stage: number; message: string }
  | {
      type: 'event';
      event: 'memory';
      stage: number;
      step: number;
      numTensors: number;
      numBytes: number;
    };
