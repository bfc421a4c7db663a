import fs from 'node:fs';
import { getModel, listModels } from './catalogue.js';
import { loadModelFile } from './importModelJson.js';
import { ModelError } from './modelError.js';
import type { ModelSpec } from './spec.js';

export interface ResolvedModel {
  spec: ModelSpec;
  source: 'catalogue' | 'file';
  /** The model.json path when imported. */
  path: string | null;
  notes: string[];
}

/** A catalogue id or a model.json path, as the CLI's --model takes it. */
export function resolveModel(idOrPath: string): ResolvedModel {
  if (listModels().some((m) => m.id === idOrPath))
    return { spec: getModel(idOrPath), source: 'catalogue', path: null, notes: [] };
  if (idOrPath.endsWith('.json') || fs.existsSync(idOrPath)) {
    const imported = loadModelFile(idOrPath);
    return { spec: imported.spec, source: 'file', path: idOrPath, notes: imported.notes };
  }
  throw new ModelError(
    `"${idOrPath}" is neither a catalogue model (${listModels()
      .map((m) => m.id)
      .join(', ')}) nor a model.json file`,
  );
}
