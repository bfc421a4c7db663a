import type { RunEvent, RunEventRecord } from '../common/runEvents.js';
import type { LossName } from '../model/spec.js';
import { bar, duration, ProgressLine } from './progress.js';

/**
 * How `pipefitter train` and `pipefitter run attach` show a run: one JSON line per event with
 * `--json`, else a progress bar with a line per stage, validation, resumption and failure. It reads
 * events as the runtime emits them and as a run's records carry them (a loss may be null there).
 */
export class RunPrinter {
  readonly progress = new ProgressLine();
  private total = 0;
  private stepsPerEpoch = 1;
  private readonly rate: number[] = [];
  /** Whether a `failed` event has been printed (a failure is printed once). */
  failurePrinted = false;

  constructor(
    readonly json: boolean,
    private batch: number,
    private readonly loss: LossName | null,
  ) {}

  /** The mini-batch size, for the ETA, once known (a run's meta record when attaching). */
  setBatch(batch: number): void {
    this.batch = batch;
  }

  say(line: string): void {
    if (this.json) process.stdout.write(JSON.stringify({ type: 'log', message: line }) + '\n');
    else this.progress.log(line);
  }

  /** A line of its own in --json (exported, detached, run): printed as given. */
  jsonLine(value: object): void {
    process.stdout.write(JSON.stringify(value) + '\n');
  }

  /** Where the trained model was written. */
  exported(modelJson: string): void {
    if (this.json) this.jsonLine({ type: 'exported', path: modelJson });
    else this.say(`trained model written to ${modelJson}`);
  }

  event(e: RunEvent | RunEventRecord): void {
    if (e.type === 'failed') this.failurePrinted = true;
    if (this.json) {
      this.jsonLine(e);
      return;
    }
    if (e.type === 'started') {
      this.total = e.totalSteps;
      this.stepsPerEpoch = e.stepsPerEpoch;
      for (const s of e.stages)
        this.say(
          `stage ${s.index}${s.replica === undefined ? '' : ` replica ${s.replica}`}: layers ${(s.chunks ?? [s.layers]).map(([a, b]) => `${a}–${b - 1}`).join(', ')} on ${s.node}, backend ${s.backend}`,
        );
    } else if (e.type === 'step') {
      this.rate.push(e.samplesPerSecond);
      if (this.rate.length > 20) this.rate.shift();
      const sps = this.rate.reduce((a, b) => a + b, 0) / this.rate.length;
      const done = e.step + 1;
      const total = Math.max(this.total, done);
      const eta = ((total - done) * this.batch * 1000) / sps;
      this.progress.update(
        `epoch ${e.epoch + 1}/${Math.ceil(total / this.stepsPerEpoch)} step ${done}/${total} ${bar(done / total)} loss ${(e.loss ?? NaN).toFixed(4)}  ${sps.toFixed(0)} samples/s  elapsed ${duration(e.elapsedMs)}  ETA ${duration(eta)}`,
        done === total,
      );
    } else if (e.type === 'validation') {
      const accuracy =
        e.accuracy === null
          ? `no accuracy (${this.loss ?? 'not a classifier'})`
          : `accuracy ${(e.accuracy * 100).toFixed(2)}%`;
      this.say(
        `epoch ${e.epoch + 1}: validation loss ${(e.loss ?? NaN).toFixed(4)}, ${accuracy} on ${e.samples} test samples`,
      );
    } else if (e.type === 'resumed') {
      this.say(
        `${e.reason}; resumed from the checkpoint of step ${e.fromStep} (restart ${e.attempt})`,
      );
    } else if (e.type === 'failed') {
      this.progress.end();
    }
  }

  end(): void {
    this.progress.end();
  }
}
