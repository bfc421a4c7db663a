import { ringAllReduce, type RingLink } from './ringAllReduce.js';
import type { StageExecutor } from './stageExecutor.js';

/**
 * Local SGD's outer step, as DiLoCo does it (Douillard et al. 2023): the replicas train apart from
 * the same weights (the anchor) for a few steps; then each one's change since the anchor is averaged
 * over the ring, and the anchor moves by that average through SGD with Nesterov momentum; every
 * replica goes on from the new anchor. With learning rate 1 and no momentum it is plain averaging.
 * The inner optimizers' state stays each replica's own.
 */
export class OuterStep {
  private anchor: Float32Array | null = null;
  private velocity: Float32Array | null = null;

  constructor(
    private readonly exec: StageExecutor,
    private readonly ring: RingLink,
    private readonly rank: number,
    private readonly size: number,
    private readonly opts: { lr: number; momentum: number },
  ) {}

  /** Takes the weights every replica starts from (they are equal: configured or resumed alike). */
  async begin(): Promise<void> {
    this.anchor = await this.exec.readTrainable();
    this.velocity = new Float32Array(this.anchor.length);
  }

  /** Averages the replicas' changes and moves every replica to the new anchor. `tag` names the round. */
  async sync(tag: number): Promise<void> {
    const anchor = this.anchor!;
    const v = this.velocity!;
    const delta = await this.exec.readTrainable();
    for (let i = 0; i < delta.length; i++) delta[i] = anchor[i]! - delta[i]!;
    await ringAllReduce(delta, this.rank, this.size, this.ring, tag);
    const { lr, momentum: mu } = this.opts;
    for (let i = 0; i < delta.length; i++) {
      const g = delta[i]! / this.size;
      v[i] = mu * v[i]! + g;
      anchor[i]! -= lr * (mu * v[i]! + g);
    }
    this.exec.writeTrainable(anchor);
  }
}
