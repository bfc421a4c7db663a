import { chunksInModelOrder } from '../pipeline/stageChunks.js';
import type { NamedWeight } from '../pipeline/stageExecutor.js';
import type { StageLink } from './stageLink.js';

/**
 * Gathers every stage's current weights, by name and shape, in model order (an interleaved stage
 * sends its chunks' weights chunk after chunk, and says where each chunk's begin).
 */
export async function gatherWeights(links: StageLink[]): Promise<NamedWeight[]> {
  const parts = await Promise.all(
    links.map(async (l) => {
      const { result, frames } = await l.request({ type: 'weights' }, [], 60_000);
      const r = result as { names: string[]; shapes: number[][]; chunkWeights?: number[] };
      const weights = frames.map((f, i) => {
        const copy = Buffer.from(f);
        return {
          name: r.names[i]!,
          shape: r.shapes[i]!,
          data: new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4),
        };
      });
      return { weights, chunks: r.chunkWeights ?? [weights.length] };
    }),
  );
  return chunksInModelOrder(
    parts.map((p) => p.weights),
    parts.map((p) => p.chunks),
  );
}
