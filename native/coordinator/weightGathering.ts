import type { NamedWeight } from '../pipeline/stageExecutor.js';
import type { StageLink } from './stageLink.js';

/** Gathers every stage's current weights, by name and shape, in model order. */
export async function gatherWeights(links: StageLink[]): Promise<NamedWeight[]> {
  const parts = await Promise.all(
    links.map(async (l) => {
      const { result, frames } = await l.request({ type: 'weights' }, [], 60_000);
      const r = result as { names: string[]; shapes: number[][] };
      return frames.map((f, i) => {
        const copy = Buffer.from(f);
        return {
          name: r.names[i]!,
          shape: r.shapes[i]!,
          data: new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4),
        };
      });
    }),
  );
  return parts.flat();
}
