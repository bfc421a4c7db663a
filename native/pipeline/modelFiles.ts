import fs from 'node:fs';
import path from 'node:path';
import type * as tfc from '@tensorflow/tfjs-core';
import type { Tf } from '../backend/tfTypes.js';
import { buildModel } from '../model/build.js';
import type { ModelSpec } from '../model/spec.js';
import type { NamedWeight } from './stageExecutor.js';

/**
 * Writes a trained model as TensorFlow.js files (model.json + weights.bin) that tf.loadLayersModel
 * reads: the spec is rebuilt as a tf.Sequential, given the gathered weights, and saved through tfjs's
 * own serialiser, so the topology is exactly what tfjs expects.
 */
export async function writeModelFiles(
  tf: Tf,
  spec: ModelSpec,
  weights: NamedWeight[],
  dir: string,
): Promise<string> {
  const model = buildModel(tf, spec);
  const tensors = weights.map((w) => tf.tensor(w.data, w.shape));
  model.setWeights(tensors);
  tensors.forEach((t) => t.dispose());
  fs.mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightsFile = 'weights.bin';
      fs.writeFileSync(
        path.join(dir, weightsFile),
        Buffer.from(artifacts.weightData as ArrayBuffer),
      );
      const json = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: 'Pipefitter',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [weightsFile], weights: artifacts.weightSpecs }],
        userDefinedMetadata: {
          pipefitter: { model: spec.id, loss: spec.loss, numClasses: spec.numClasses },
        },
      };
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return path.join(dir, 'model.json');
}

/** An IOHandler that loads model.json + weights from disk, for tf.loadLayersModel without tfjs-node. */
export function fileModelLoader(tf: Tf, modelJson: string): tfc.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as {
        modelTopology: object;
        weightsManifest: { paths: string[]; weights: tfc.io.WeightsManifestEntry[] }[];
      };
      const dir = path.dirname(modelJson);
      const buffers = json.weightsManifest.flatMap((g) =>
        g.paths.map((p) => fs.readFileSync(path.join(dir, p))),
      );
      const all = Buffer.concat(buffers);
      void tf;
      return {
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}
