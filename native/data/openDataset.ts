import { labelClasses } from '../model/losses.js';
import { CsvDataset } from './csv.js';
import { DatasetError, type Dataset } from './dataset.js';
import { MnistDataset } from './mnist.js';
import { SyntheticDataset } from './synthetic.js';
import { TextDataset } from './text.js';

/**
 * Opens a dataset by its id: "mnist", "text" (the char model's corpus), "synthetic" (shaped for the model), "synthetic:784:10" or
 * "csv:/path/file.csv[:label]". Throws a DatasetError saying what is missing on this machine.
 */
export function openDataset(
  id: string,
  model?: { inputShape: number[]; numClasses: number },
): Dataset {
  if (id === 'mnist') return new MnistDataset();
  if (id === 'text') return new TextDataset(model?.inputShape[0]);
  if (id === 'synthetic' || id.startsWith('synthetic:')) {
    const [, shape, classes] = id.split(':');
    const inputShape = shape ? shape.split('x').map(Number) : model?.inputShape;
    // A 1-unit (binary) model's labels are 0 and 1: two classes, not one.
    const numClasses = classes ? Number(classes) : model && labelClasses(model);
    if (!inputShape)
      throw new DatasetError(
        `"${id}" takes its shape from the model; without one, say it: synthetic:<dims, e.g. 784 or 28x28x1>:<classes>`,
      );
    if (
      inputShape.some((d) => !Number.isInteger(d) || d < 1) ||
      !numClasses ||
      !Number.isInteger(numClasses) ||
      numClasses < 2
    ) {
      throw new DatasetError(
        `"${id}" is not a synthetic set: use synthetic:<dims, e.g. 784 or 28x28x1>:<classes, 2 or more>, or plain "synthetic" (shaped for the model)`,
      );
    }
    return new SyntheticDataset(inputShape, numClasses);
  }
  if (id.startsWith('csv:')) {
    const { file, label } = parseCsvId(id);
    return new CsvDataset(file, { labelColumn: label });
  }
  throw new DatasetError(
    `unknown dataset "${id}": use mnist, text, synthetic[:dims:classes] or csv:<file>[:label column]`,
  );
}

/** "csv:/path/file.csv[:label]" → the file and the label column (a name or a 0-based index). */
export function parseCsvId(id: string): { file: string; label: string | number | undefined } {
  const m = /^(.*?)(?::([^:/\\]+))?$/.exec(id.slice(4))!;
  const label = m[2] === undefined ? undefined : /^\d+$/.test(m[2]) ? Number(m[2]) : m[2];
  return { file: m[1]!, label };
}
