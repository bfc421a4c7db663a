import type { OptimizerName } from '../common/schemas.js';
import type { NamedArray } from '../pipeline/checkpointFile.js';

/**
 * A stage's optimizer state (StageExecutor.readOptimizerState: tfjs's getWeights order, then Adam's
 * β powers) taken apart per trainable variable, so that a run resumed on another layout can hand
 * each new stage the state of exactly its variables:
 * - sgd: [iter]
 * - momentum: [iter, acc₀ … accₙ₋₁]
 * - adam: [iter, m₀ … mₙ₋₁, v₀ … vₙ₋₁, β₁ᵗ, β₂ᵗ]
 * `iter` and the β powers are the same on every stage (one step count for the run).
 */
export interface SplitOptimizerState {
  head: NamedArray[];
  perVariable: NamedArray[][];
  tail: NamedArray[];
}

const PER_VARIABLE: Record<OptimizerName, number> = { sgd: 0, momentum: 1, adam: 2 };
const TAIL: Record<OptimizerName, number> = { sgd: 0, momentum: 0, adam: 2 };

export function splitOptimizerState(
  optimizer: OptimizerName,
  state: NamedArray[],
): SplitOptimizerState {
  const per = PER_VARIABLE[optimizer];
  const tail = TAIL[optimizer];
  // SGD keeps nothing per variable: its count does not matter, none is made.
  const variables = per === 0 ? 0 : (state.length - 1 - tail) / per;
  if (!Number.isInteger(variables) || variables < 0 || (per === 0 && state.length !== 1 + tail))
    throw new Error(`${state.length} arrays are not an optimizer state of ${optimizer}`);
  const body = state.slice(1, 1 + per * variables);
  return {
    head: state.slice(0, 1),
    // Adam keeps all first moments, then all second moments: variable i has body[i] and body[n + i].
    perVariable: Array.from({ length: variables }, (_, i) =>
      Array.from({ length: per }, (_, j) => body[j * variables + i]!),
    ),
    tail: state.slice(1 + per * variables),
  };
}

/** The state of a stage holding `perVariable` (its variables, in order), in the stage's order. */
export function joinOptimizerState(
  optimizer: OptimizerName,
  common: { head: NamedArray[]; tail: NamedArray[] },
  perVariable: NamedArray[][],
): NamedArray[] {
  const per = PER_VARIABLE[optimizer];
  const body: NamedArray[] = [];
  for (let j = 0; j < per; j++) for (const v of perVariable) body.push(v[j]!);
  return [...common.head, ...body, ...common.tail];
}
