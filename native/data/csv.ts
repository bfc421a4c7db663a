import fs from 'node:fs';
import { DatasetError, type Dataset, type Split } from './dataset.js';

export interface CsvOptions {
  /** Column holding the class (name from the header, or 0-based index); default: the last column. */
  labelColumn?: string | number;
  /** Every `testEvery`-th row goes to the test split (default 5: an 80/20 split, deterministic). */
  testEvery?: number;
}

/**
 * A CSV file of numeric features and a label column (numbers or names; names become class indices in
 * sorted order). A header row is detected when its feature cells are not numbers.
 */
export class CsvDataset implements Dataset {
  readonly id: string;
  readonly inputShape: number[];
  readonly inputDtype = 'float32' as const;
  readonly numClasses: number;
  readonly classNames: string[];
  private readonly rows: Record<Split, { x: Float32Array; y: number }[]> = { train: [], test: [] };

  constructor(
    readonly file: string,
    opts: CsvOptions = {},
  ) {
    this.id = `csv:${file}`;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new DatasetError(`cannot read ${file}: ${(err as Error).message}`);
    }
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    if (lines.length === 0) throw new DatasetError(`${file} is empty`);
    const cells = lines.map((l) => l.split(',').map((c) => c.trim()));
    const width = cells[0]!.length;
    if (width < 2)
      throw new DatasetError(`${file}: need at least one feature column and a label column`);
    const header =
      cells[0]!.some((c) => c !== '' && !Number.isFinite(Number(c))) &&
      cells.length > 1 &&
      cells[1]!.filter((c) => Number.isFinite(Number(c))).length >= width - 1;
    const names = header ? cells[0]! : null;
    let labelAt = width - 1;
    if (typeof opts.labelColumn === 'number') labelAt = opts.labelColumn;
    else if (typeof opts.labelColumn === 'string') {
      labelAt = names ? names.indexOf(opts.labelColumn) : -1;
      if (labelAt < 0)
        throw new DatasetError(
          `${file}: no column named "${opts.labelColumn}"${names ? ` (columns: ${names.join(', ')})` : ' (the file has no header row)'}`,
        );
    }
    if (labelAt < 0 || labelAt >= width)
      throw new DatasetError(`${file}: label column ${labelAt} is outside its ${width} columns`);
    const body = header ? cells.slice(1) : cells;
    const labelValues = [...new Set(body.map((r) => r[labelAt]!))];
    const numeric = labelValues.every((v) => /^\d+$/.test(v));
    this.classNames = numeric ? [] : labelValues.sort();
    const testEvery = opts.testEvery ?? 5;
    body.forEach((r, i) => {
      if (r.length !== width)
        throw new DatasetError(
          `${file}: line ${i + (header ? 2 : 1)} has ${r.length} columns, expected ${width}`,
        );
      const x = new Float32Array(width - 1);
      let k = 0;
      for (let c = 0; c < width; c++) {
        if (c === labelAt) continue;
        const v = Number(r[c]);
        if (!Number.isFinite(v))
          throw new DatasetError(
            `${file}: line ${i + (header ? 2 : 1)}, column ${c + 1}: "${r[c]}" is not a number`,
          );
        x[k++] = v;
      }
      const y = numeric ? Number(r[labelAt]) : this.classNames.indexOf(r[labelAt]!);
      this.rows[i % testEvery === testEvery - 1 ? 'test' : 'train'].push({ x, y });
    });
    this.inputShape = [width - 1];
    this.numClasses = numeric
      ? Math.max(...body.map((r) => Number(r[labelAt]))) + 1
      : this.classNames.length;
  }

  size(split: Split): number {
    return this.rows[split].length;
  }

  inputs(split: Split, indices: ArrayLike<number>): Float32Array {
    const f = this.inputShape[0]!;
    const out = new Float32Array(indices.length * f);
    for (let i = 0; i < indices.length; i++) out.set(this.rows[split][indices[i]!]!.x, i * f);
    return out;
  }

  labels(split: Split, indices: ArrayLike<number>): Int32Array {
    return Int32Array.from({ length: indices.length }, (_, i) => this.rows[split][indices[i]!]!.y);
  }
}
