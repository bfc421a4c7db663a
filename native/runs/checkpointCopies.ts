import fs from 'node:fs';
import type { OptimizerName } from '../common/schemas.js';
import { splitOptimizerState } from '../pipeline/optimizerStateSlices.js';
import { chunksInModelOrder } from '../pipeline/stageChunks.js';
import type { RunCheckpoint, RunState } from '../coordinator/runSpec.js';
import type { RunRecord } from './runSchemas.js';
import { checkpointPath, decodeCheckpoint, readCheckpoint } from '../pipeline/checkpointFile.js';
import { writeFileAtomic } from '../util/fsAtomic.js';

/** How many complete checkpoints the driver keeps a copy of. */
const KEEP = 2;

/**
 * The driver's copy of a run's complete checkpoints: every stage's file, fetched from its machine
 * after the stages have written it and checked against the checksum the stage reported. It is what
 * a run resumes from when a stage's machine itself is lost (its own files went with it), re-sliced
 * for the machines that are left.
 */
export class CheckpointCopies {
  /** Steps with a whole copy, oldest first, and how many stages each has. */
  private readonly steps: { step: number; stages: number }[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {}

  /**
   * Copies a complete checkpoint (in the background, one at a time); `fetch` reads stage k's file.
   * Resolves when this copy is done; a copy that fails (a machine lost meanwhile) is reported through
   * `onError` and leaves the older copies as they were.
   */
  copy(
    c: RunCheckpoint,
    fetch: (stage: number, step: number) => Promise<Buffer>,
    onError: (message: string) => void,
  ): Promise<void> {
    this.queue = this.queue.then(async () => {
      try {
        for (let k = 0; k < c.stages.length; k++) {
          const bytes = await fetch(k, c.step);
          const got = decodeCheckpoint(bytes, `stage ${k}'s checkpoint of step ${c.step}`);
          if (got.sha256 !== c.stages[k]!.sha256)
            throw new Error(`stage ${k} sent a checkpoint of step ${c.step} it did not report`);
          writeFileAtomic(checkpointPath(this.dir, k, c.step), bytes);
        }
        this.steps.push({ step: c.step, stages: c.stages.length });
        while (this.steps.length > KEEP) this.remove(this.steps.shift()!);
      } catch (err) {
        onError(`no copy of the checkpoint of step ${c.step}: ${(err as Error).message}`);
      }
    });
    return this.queue;
  }

  /** Resolves when every copy asked for so far has finished or failed. */
  settled(): Promise<void> {
    return this.queue;
  }

  /**
   * Takes as its own the copies made before this process started (a restarted standby, a run resumed
   * later): of the checkpoints `records` name, the newest KEEP whose every stage file is here and is
   * the one the record names.
   */
  adoptRecorded(records: RunRecord[]): void {
    const recorded = records.flatMap((r) =>
      r.kind === 'event' && r.event.type === 'checkpoint'
        ? [{ step: r.event.step, stages: r.event.stages }]
        : [],
    );
    const whole: RunCheckpoint[] = [];
    for (let i = recorded.length - 1; i >= 0 && whole.length < KEEP; i--)
      if (this.isWhole(recorded[i]!)) whole.unshift(recorded[i]!);
    this.steps.length = 0;
    for (const c of whole) this.steps.push({ step: c.step, stages: c.stages.length });
  }

  private isWhole(c: RunCheckpoint): boolean {
    try {
      for (let k = 0; k < c.stages.length; k++) {
        const file = checkpointPath(this.dir, k, c.step);
        if (decodeCheckpoint(fs.readFileSync(file), file).sha256 !== c.stages[k]!.sha256)
          return false;
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Stage `stage`'s file of the copy of `step`, once every copy asked for so far is done; null if none. */
  async file(stage: number, step: number): Promise<string | null> {
    await this.settled();
    const s = this.steps.find((x) => x.step === step);
    return s && stage < s.stages ? checkpointPath(this.dir, stage, step) : null;
  }

  /** The newest step with a whole copy, if any. */
  newest(): number | null {
    return this.steps.at(-1)?.step ?? null;
  }

  /** The whole model's state at the newest copied step: weights in model order, optimizer per variable. */
  newestState(optimizer: OptimizerName): RunState | null {
    const s = this.steps.at(-1);
    if (!s) return null;
    const weights: RunState['weights'][] = [];
    const perVariable: RunState['optimizer']['perVariable'][] = [];
    const sizes: { weights: number[][]; variables: number[][] } = { weights: [], variables: [] };
    let common: Pick<RunState['optimizer'], 'head' | 'tail'> | null = null;
    for (let k = 0; k < s.stages; k++) {
      const st = readCheckpoint(checkpointPath(this.dir, k, s.step));
      const split = splitOptimizerState(optimizer, st.optimizerState);
      weights.push(st.weights);
      perVariable.push(split.perVariable);
      // An interleaved stage's file holds its chunks one after another: model order interleaves them.
      sizes.weights.push(st.chunks?.map((c) => c.weights) ?? [st.weights.length]);
      // SGD keeps nothing per variable: every chunk's share of the (empty) list is none.
      const none = split.perVariable.length === 0;
      sizes.variables.push(
        st.chunks?.map((c) => (none ? 0 : c.variables)) ?? [split.perVariable.length],
      );
      common ??= { head: split.head, tail: split.tail };
    }
    return {
      step: s.step,
      weights: chunksInModelOrder(weights, sizes.weights),
      optimizer: { ...common!, perVariable: chunksInModelOrder(perVariable, sizes.variables) },
    };
  }

  /** Removes every copy (the run finished). */
  clear(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.steps.length = 0;
  }

  private remove(s: { step: number; stages: number }): void {
    for (let k = 0; k < s.stages; k++)
      fs.rmSync(checkpointPath(this.dir, k, s.step), { force: true });
  }
}
