import fs from 'node:fs';
import { CHAR_VOCAB_SIZE } from '../model/charCorpus.js';
import { labelClasses, LOSS_WORDS } from '../model/losses.js';
import type { ModelSpec } from '../model/spec.js';
import { DatasetError, sampleSize, type Dataset } from './dataset.js';
import { openDataset, parseCsvId } from './openDataset.js';

/** What fitting a model needs to know of a dataset. */
export type DatasetShape = Pick<Dataset, 'id' | 'inputShape' | 'inputDtype' | 'numClasses'>;

type FitModel = Pick<ModelSpec, 'id' | 'inputShape' | 'inputDtype' | 'loss' | 'numClasses'>;

const range = (n: number) => (n === 1 ? 'class 0' : `classes 0–${n - 1}`);

/**
 * Why a model cannot train on a dataset (features per sample, input type, label classes against the
 * output), in words that say what would fit; null when it fits. A dataset with fewer classes than the
 * output has units fits (those units are never the answer); one with more does not.
 */
export function datasetFitProblem(model: FitModel, ds: DatasetShape): string | null {
  const need = sampleSize(model.inputShape);
  const have = sampleSize(ds.inputShape);
  if (need !== have)
    return (
      `dataset ${ds.id} has ${have} values per sample, but model ${model.id} takes ${need} ` +
      `([${model.inputShape.join(', ')}])` +
      (ds.id.startsWith('synthetic:') ? '; plain "synthetic" is shaped for the model' : '')
    );
  if (ds.inputDtype !== model.inputDtype)
    return model.inputDtype === 'int32'
      ? `model ${model.id} takes integer ids (its first layer is an embedding), but dataset ${ds.id} holds real values`
      : `model ${model.id} takes real values, but dataset ${ds.id} holds integer ids`;
  const want = labelClasses(model);
  if (ds.numClasses > want) {
    const units = model.numClasses;
    const output =
      units === 1
        ? `one output unit (${LOSS_WORDS[model.loss]}: labels 0 and 1)`
        : `${units} output units (${range(units)})`;
    const fix = ds.id.startsWith('synthetic')
      ? `use synthetic:${model.inputShape.join('x')}:${want}, or plain "synthetic" (shaped for the model)`
      : ds.id.startsWith('csv:')
        ? `its label column must hold ${want === 2 ? '0 and 1 (or two names)' : range(want)}`
        : `use a dataset with ${want} classes, e.g. "synthetic" (shaped for the model)`;
    return `dataset ${ds.id} has ${ds.numClasses} classes (${range(ds.numClasses)}), but model ${model.id} has ${output}: ${fix}`;
  }
  return null;
}

/**
 * The shape of a dataset as the coordinator can tell it without the data: MNIST and the text corpus
 * are known; a synthetic set is computed; a CSV is read when this machine has the file. Null when
 * only the machines that hold the data can tell (their stage host checks it at configure).
 */
export function describeDataset(id: string, model: FitModel): DatasetShape | null {
  if (id === 'mnist') return { id, inputShape: [28, 28, 1], inputDtype: 'float32', numClasses: 10 };
  if (id === 'text')
    return {
      id,
      inputShape: [model.inputShape[0] ?? 32],
      inputDtype: 'int32',
      numClasses: CHAR_VOCAB_SIZE,
    };
  if (id.startsWith('csv:')) {
    if (!fs.existsSync(parseCsvId(id).file)) return null;
  }
  return openDataset(id, model);
}

/**
 * The preflight every run goes through before a stage starts (`pipefitter train`, the app's
 * RunService, RunController): refuses a dataset the model cannot train on, with a DatasetError.
 */
export function checkDatasetFits(model: FitModel, datasetId: string): void {
  const ds = describeDataset(datasetId, model);
  const problem = ds && datasetFitProblem(model, ds);
  if (problem) throw new DatasetError(problem);
}
