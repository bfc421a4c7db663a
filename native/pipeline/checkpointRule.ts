/**
 * When a stage saves a checkpoint: every `every` steps counted from `from` steps done. The
 * driver may change the interval mid-run (once it has measured what a save costs); it names a `from`
 * ahead of every stage, so all stages save at the same steps and each checkpoint completes.
 */
export class CheckpointRule {
  constructor(
    private every: number,
    private from = 0,
  ) {}

  get interval(): number {
    return this.every;
  }

  /** Whether to save after `done` steps. */
  due(done: number): boolean {
    return this.every > 0 && done > this.from && (done - this.from) % this.every === 0;
  }

  /**
   * Save every `every` steps counted from `from` steps done (the first at `from + every`). A stage already past `from` keeps to the
   * same steps from where it is (the ones it passed are not saved): the others save them, but a
   * checkpoint only counts once every stage has it, so nothing inconsistent is ever used.
   */
  change(every: number, from: number): void {
    if (this.every === 0) throw new Error('this run keeps no checkpoints');
    if (!(Number.isInteger(every) && every > 0)) throw new Error(`invalid interval ${every}`);
    this.every = every;
    this.from = from;
  }
}
