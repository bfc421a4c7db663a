/**
 * How often a run saves a checkpoint when the person did not say in steps: every `--checkpoint-seconds`
 * S, or by Young's formula τ = √(2·C·M) (C: what one save stalls the pipeline, M: the run's mean time
 * between failures), which balances the time spent saving against the work redone after a loss.
 */

/**
 * Assumed mean time between failures of one lab workstation: a reboot, an unplug, its owner taking it
 * back for their own job. A run on p machines fails p times as often.
 */
export const ASSUMED_MACHINE_MTBF_HOURS = 24;

/** Young's optimal checkpoint interval in seconds for a save stalling `saveMs` on `machines` machines. */
export function youngIntervalSeconds(saveMs: number, machines: number): number {
  const mtbfS = (ASSUMED_MACHINE_MTBF_HOURS * 3600) / Math.max(1, machines);
  return Math.sqrt(2 * (Math.max(saveMs, 0.1) / 1000) * mtbfS);
}

export interface CheckpointInterval {
  /** Steps between checkpoints. */
  every: number;
  /** The interval in seconds it stands for, and why that one. */
  seconds: number;
  why: string;
  /** The save's stall as a share of the time between checkpoints. */
  share: number;
}

/**
 * The interval in steps for `target` (seconds, or Young's formula), from the measured save stall and
 * step time.
 */
export function checkpointInterval(
  target: number | 'young',
  saveMs: number,
  stepMs: number,
  machines: number,
): CheckpointInterval {
  const seconds = target === 'young' ? youngIntervalSeconds(saveMs, machines) : target;
  const every = Math.max(1, Math.min(1e9, Math.round((seconds * 1000) / Math.max(stepMs, 0.01))));
  const why =
    target === 'young'
      ? `Young's √(2 × ${saveMs.toFixed(1)} ms save × MTBF ${(ASSUMED_MACHINE_MTBF_HOURS / Math.max(1, machines)).toFixed(1)} h: ${ASSUMED_MACHINE_MTBF_HOURS} h per machine assumed, ${machines} machine${machines === 1 ? '' : 's'})`
      : `--checkpoint-seconds ${target}`;
  return { every, seconds, why, share: saveMs / (every * stepMs) };
}
