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
    const numClasses = classes ? Number(classes) : model?.numClasses;
    if (
      !inputShape ||
      inputShape.some((d) => !Number.isInteger(d) || d < 1) ||
      !numClasses ||
      !Number.isInteger(numClasses) ||
      numClasses < 2
    ) {
      throw new DatasetError(
        `"${id}": use synthetic:<dims, e.g. 784 or 28x28x1>:<classes>, or plain "synthetic" with a model`,
      );
    }
    return new SyntheticDataset(inputShape, numClasses);
  }
  if (id.startsWith('csv:')) {
    const rest = id.slice(4);
    const m = /^(.*?)(?::([^:/\\]+))?$/.exec(rest)!;
    const label = m[2] === undefined ? undefined : /^\d+$/.test(m[2]) ? Number(m[2]) : m[2];
    return new CsvDataset(m[1]!, { labelColumn: label });
  }
  throw new DatasetError(
    `unknown dataset "${id}": use mnist, text, synthetic[:dims:classes] or csv:<file>[:label column]`,
  );
}
