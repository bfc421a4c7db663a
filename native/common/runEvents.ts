import { z } from 'zod';

/** The agent that drives a run recorded by another process (runs that outlive the app). */
export const RunDriverSchema = z.object({ nodeId: z.string(), name: z.string() });
export type RunDriver = z.infer<typeof RunDriverSchema>;

/**
 * What a run reports as it goes: RunController emits these, the run file records them, the API sends
 * them and the UI draws them. One definition, two number types: in memory a step's loss may be NaN
 * (`RunEvent`); JSON writes NaN as null, so the recorded form (`RunEventRecord`) reads it back as null.
 */
function runEventSchema<L extends z.ZodType<number | null>>(lossNumber: L) {
  const StageInfoSchema = z.object({
    index: z.number().int(),
    /** Which replica of the stage (a stage run as several); absent: its only one. */
    replica: z.number().int().optional(),
    node: z.string(),
    host: z.string(),
    backend: z.string(),
    layers: z.tuple([z.number().int(), z.number().int()]),
    /** An interleaved stage's chunks' layers [start, end), chunk 0 (= layers) first. */
    chunks: z.array(z.tuple([z.number().int(), z.number().int()])).optional(),
    pid: z.number().int(),
    /** The machine's node id, so the UI can show its live figures (added by the run service). */
    nodeId: z.string().optional(),
  });
  return z.discriminatedUnion('type', [
    z.object({
      type: z.literal('started'),
      runId: z.string(),
      totalSteps: z.number().int(),
      stepsPerEpoch: z.number().int(),
      stages: z.array(StageInfoSchema),
    }),
    z.object({
      type: z.literal('step'),
      step: z.number().int(),
      epoch: z.number().int(),
      loss: lossNumber,
      samplesPerSecond: z.number(),
      elapsedMs: z.number(),
      stages: z.array(
        z.object({
          index: z.number().int(),
          replica: z.number().int().optional(),
          busyMs: z.number(),
          commMs: z.number(),
          totalMs: z.number(),
        }),
      ),
      timings: z.array(TimingSchema),
    }),
    z.object({
      type: z.literal('validation'),
      epoch: z.number().int(),
      loss: lossNumber,
      accuracy: z.number().nullable(),
      samples: z.number().int(),
    }),
    z.object({
      type: z.literal('memory'),
      stage: z.number().int(),
      step: z.number().int(),
      numTensors: z.number(),
      numBytes: z.number(),
    }),
    z.object({ type: z.literal('log'), message: z.string(), stage: z.number().int().optional() }),
    z.object({ type: z.literal('done'), steps: z.number().int(), elapsedMs: z.number() }),
    /** Every stage has saved its state after `step` steps (files on the stages' own machines). */
    z.object({
      type: z.literal('checkpoint'),
      step: z.number().int(),
      stages: z.array(
        z.object({
          index: z.number().int(),
          file: z.string(),
          bytes: z.number().int(),
          sha256: z.string(),
        }),
      ),
      copyMs: z.number(),
      writeMs: z.number(),
    }),
    /**
     * A stage was lost and the run went on: restarted from the checkpoint of `fromStep` (the steps
     * after it are trained again). `stages` are the new stage processes.
     */
    z.object({
      type: z.literal('resumed'),
      fromStep: z.number().int(),
      reason: z.string(),
      attempt: z.number().int(),
      stages: z.array(StageInfoSchema),
      /** Set when another agent took the run over (its driver was lost): who drives it from here. */
      driver: RunDriverSchema.optional(),
    }),
    z.object({ type: z.literal('failed'), message: z.string() }),
    /** Local SGD: the replicas averaged their weights after `step` (an outer step), taking `ms`. */
    z.object({ type: z.literal('outer'), step: z.number().int(), ms: z.number() }),
  ]);
}

/** One action of one stage in a step, for the timeline (ms on that stage's own clock). */
export const TimingSchema = z.object({
  stage: z.number().int(),
  replica: z.number().int().optional(),
  op: z.string(),
  mb: z.number().int(),
  /** The chunk the action worked on (an interleaved stage); absent: chunk 0. */
  chunk: z.number().int().optional(),
  start: z.number(),
  end: z.number(),
});
export type Timing = z.infer<typeof TimingSchema>;

/** A run event as RunController emits it. */
export const RunEventSchema = runEventSchema(z.number());
export type RunEvent = z.infer<typeof RunEventSchema>;

/** A run event as the run file and the API carry it (a NaN loss reads back as null). */
export const RunEventRecordSchema = runEventSchema(z.number().nullable());
export type RunEventRecord = z.infer<typeof RunEventRecordSchema>;
