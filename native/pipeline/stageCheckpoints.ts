import fs from 'node:fs';
import { checkpointPath, checkpointSteps, writeCheckpoint } from './checkpointFile.js';
import type { StageChunks } from './stageChunks.js';
import type { Configure, StageEvent } from './stageProtocol.js';

/**
 * How many of its checkpoints a stage keeps: the run resumes from the newest step every stage has,
 * or the one before if a stage refuses it; a stage can be a step ahead of the others, so three.
 */
const KEEP = 3;

/**
 * A stage's checkpoints at step boundaries. `save` holds the step loop only while it reads the
 * tensors back to host memory; the file is written in the background, one at a time, and reported
 * (`checkpoint` event) once it is on disk. Older files than the newest three are removed.
 */
export class StageCheckpoints {
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly cfg: Configure,
    private readonly exec: StageChunks,
    private readonly emit: (e: StageEvent) => void,
  ) {}

  /** Saves the state after `step` steps. */
  async save(step: number): Promise<void> {
    const t0 = performance.now();
    const [weights, optimizerState] = await Promise.all([
      this.exec.readWeights(),
      this.exec.readOptimizerState(),
    ]);
    const copyMs = performance.now() - t0;
    const k = this.cfg.stageIndex;
    const file = checkpointPath(this.dir, k, step);
    this.writing = this.writing.then(async () => {
      const t1 = performance.now();
      try {
        const { bytes, sha256 } = await writeCheckpoint(file, {
          runId: this.cfg.runId,
          stage: k,
          step,
          optimizer: this.cfg.optimizer.name,
          weights,
          optimizerState,
          ...(this.exec.execs.length > 1 ? { chunks: this.exec.layout } : {}),
        });
        this.emit({
          type: 'event',
          event: 'checkpoint',
          stage: k,
          step,
          file,
          bytes,
          sha256,
          copyMs,
          writeMs: performance.now() - t1,
        });
        this.prune();
      } catch (err) {
        this.emit({
          type: 'event',
          event: 'log',
          stage: k,
          message: `checkpoint of step ${step} not written: ${(err as Error).message}`,
        });
      }
    });
  }

  /** Resolves once every checkpoint asked for is on disk (or reported as not written). */
  flushed(): Promise<void> {
    return this.writing;
  }

  private prune(): void {
    const k = this.cfg.stageIndex;
    for (const s of checkpointSteps(this.dir, k).slice(KEEP))
      fs.rmSync(checkpointPath(this.dir, k, s), { force: true });
  }
}
