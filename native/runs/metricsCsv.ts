import type { RunRecord } from './runSchemas.js';

/**
 * A run's metrics as one CSV table: a row per training step and a row per validation, with the columns
 * a spreadsheet needs to plot either (blank where a row has no value).
 */
export function metricsCsv(records: RunRecord[]): string {
  const rows = ['kind,step,epoch,wall_time_ms,elapsed_ms,loss,accuracy,samples_per_second'];
  let lastStep = 0;
  const cell = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));
  for (const r of records) {
    if (r.kind !== 'event') continue;
    const e = r.event;
    if (e.type === 'step') {
      lastStep = e.step;
      rows.push(
        `train,${e.step},${e.epoch},${r.t},${e.elapsedMs.toFixed(1)},${cell(e.loss)},,${e.samplesPerSecond.toFixed(2)}`,
      );
    } else if (e.type === 'validation')
      rows.push(`validation,${lastStep},${e.epoch},${r.t},,${cell(e.loss)},${cell(e.accuracy)},`);
  }
  return rows.join('\n') + '\n';
}
