/**
 * A valid tfjs layers-model model.json of at least `minBytes`: a Sequential chain of small Dense layers
 * with every field Keras writes and a weights manifest that matches them, the way a deep model's file
 * gets big. Import-able, plannable, and cheap to build.
 */
export function bigModelJson(minBytes: number): { text: string; layers: number; name: string } {
  const units = 16;
  const dense = (i: number, u: number, activation: string) => ({
    class_name: 'Dense',
    config: {
      units: u,
      activation,
      use_bias: true,
      kernel_initializer: {
        class_name: 'VarianceScaling',
        config: { scale: 1, mode: 'fan_avg', distribution: 'normal', seed: null },
      },
      bias_initializer: { class_name: 'Zeros', config: {} },
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
      name: `dense_${i}`,
      trainable: true,
      ...(i === 0 ? { batch_input_shape: [null, 784] } : {}),
      dtype: 'float32',
    },
  });
  const build = (n: number) => {
    const layers = [];
    const weights = [];
    let fanIn = 784;
    for (let i = 0; i < n; i++) {
      const last = i === n - 1;
      const u = last ? 10 : units;
      layers.push(dense(i, u, last ? 'softmax' : 'relu'));
      weights.push(
        { name: `dense_${i}/kernel`, shape: [fanIn, u], dtype: 'float32' },
        { name: `dense_${i}/bias`, shape: [u], dtype: 'float32' },
      );
      fanIn = u;
    }
    return JSON.stringify({
      format: 'layers-model',
      generatedBy: 'TensorFlow.js tfjs-layers v4.22.0',
      convertedBy: null,
      modelTopology: {
        class_name: 'Sequential',
        config: { name: 'deep_dense_chain', layers },
        keras_version: 'tfjs-layers 4.22.0',
        backend: 'tensor_flow.js',
      },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights }],
    });
  };
  const perLayer = build(2).length - build(1).length;
  let n = Math.ceil(minBytes / perLayer);
  let text = build(n);
  while (text.length < minBytes) text = build(++n);
  return { text, layers: n, name: 'deep_dense_chain' };
}
