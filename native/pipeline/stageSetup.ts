import type { Tf } from '../backend/tfTypes.js';
import type { Dataset } from '../data/dataset.js';
import type { StageChunks } from './stageChunks.js';
import type { StageExecutor } from './stageExecutor.js';
import type { Configure } from './stageProtocol.js';
import type { StageTransport } from './transport.js';

/** A configured stage: its backend, its slice of the model, its data (if any) and its neighbours. */
export interface StageSetup {
  tf: Tf;
  cfg: Configure;
  /** Chunk 0's executor: the whole stage unless the schedule interleaves. */
  exec: StageExecutor;
  /** Every chunk the stage holds (one unless interleaved), as one for saving and restoring. */
  chunks: StageChunks;
  dataset: Dataset | null;
  transport: StageTransport;
  /** This run's checkpoint folder on this machine; null: the stage keeps no checkpoints. */
  checkpointDir: string | null;
}
