import type { OptimizerName } from '../common/schemas.js';
import type { NamedArray } from './checkpointFile.js';
import { joinOptimizerState, splitOptimizerState } from './optimizerStateSlices.js';
import type { NamedWeight, StageExecutor } from './stageExecutor.js';

/** How many weight arrays and trainable variables each chunk of a stage holds, chunk 0 first. */
export interface ChunkLayout {
  weights: number;
  variables: number;
}

/**
 * The chunks a stage holds (one, unless the schedule interleaves), seen as one stage wherever its
 * state is saved, sent or restored: weights chunk after chunk, and one optimizer state over every
 * chunk's variables in that order (as one executor of those layers would keep it), so a checkpoint
 * of an interleaved stage reads like any other stage's plus its chunk layout.
 */
export class StageChunks {
  constructor(
    readonly execs: StageExecutor[],
    private readonly optimizer: OptimizerName,
  ) {
    if (execs.length === 0) throw new Error('a stage holds at least one chunk');
  }

  get layout(): ChunkLayout[] {
    return this.execs.map((e) => ({ weights: e.weightArrays, variables: e.variableCount }));
  }

  get weightCount(): number {
    return this.execs.reduce((n, e) => n + e.weightCount, 0);
  }

  async readWeights(): Promise<NamedWeight[]> {
    return (await Promise.all(this.execs.map((e) => e.readWeights()))).flat();
  }

  setWeights(weights: { shape: number[]; data: Float32Array }[]): void {
    const total = this.execs.reduce((n, e) => n + e.weightArrays, 0);
    if (weights.length !== total)
      throw new Error(`stage expects ${total} weight arrays, got ${weights.length}`);
    let at = 0;
    for (const e of this.execs) {
      e.setWeights(weights.slice(at, at + e.weightArrays));
      at += e.weightArrays;
    }
  }

  async readOptimizerState(): Promise<NamedArray[]> {
    if (this.execs.length === 1) return this.execs[0]!.readOptimizerState();
    const parts = await Promise.all(this.execs.map((e) => e.readOptimizerState()));
    // Every chunk steps together: the step count and Adam's β powers are the same in each.
    const split = parts.map((s) => splitOptimizerState(this.optimizer, s));
    return joinOptimizerState(
      this.optimizer,
      split[0]!,
      split.flatMap((s) => s.perVariable),
    );
  }

  async restoreOptimizerState(state: NamedArray[]): Promise<void> {
    if (this.execs.length === 1) return this.execs[0]!.restoreOptimizerState(state);
    const split = splitOptimizerState(this.optimizer, state);
    const total = this.execs.reduce((n, e) => n + e.variableCount, 0);
    // Before the first step an optimizer keeps no per-variable state at all.
    if (split.perVariable.length !== 0 && split.perVariable.length !== total)
      throw new Error(
        `optimizer state for ${split.perVariable.length} variables; the stage's chunks hold ${total}`,
      );
    let at = 0;
    for (const e of this.execs) {
      const mine = split.perVariable.slice(at, at + e.variableCount);
      at += e.variableCount;
      await e.restoreOptimizerState(joinOptimizerState(this.optimizer, split, mine));
    }
  }

  dispose(): void {
    for (const e of this.execs) e.dispose();
  }
}

/**
 * Lists that a pipeline's stages hold chunk after chunk (weights, optimizer state per variable), put
 * in model order: chunk c of stage k is virtual stage c·p + k, so model order takes chunk 0 of every
 * stage, then chunk 1 of every stage, and so on. `sizes[k][c]` is how many entries chunk c of stage k
 * has in `perStage[k]`.
 */
export function chunksInModelOrder<T>(perStage: T[][], sizes: number[][]): T[] {
  const v = Math.max(...sizes.map((s) => s.length));
  const starts = sizes.map((s) => s.map((_, c) => s.slice(0, c).reduce((a, b) => a + b, 0)));
  perStage.forEach((list, k) => {
    const want = sizes[k]!.reduce((a, b) => a + b, 0);
    if (list.length !== want)
      throw new Error(`stage ${k} sent ${list.length} arrays; its chunks hold ${want}`);
  });
  const out: T[] = [];
  for (let c = 0; c < v; c++)
    perStage.forEach((list, k) => {
      if (c < sizes[k]!.length)
        out.push(...list.slice(starts[k]![c]!, starts[k]![c]! + sizes[k]![c]!));
    });
  return out;
}
