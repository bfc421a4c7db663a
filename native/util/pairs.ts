/** Every unordered pair of `xs` once, in order: (x0, x1), (x0, x2), …, (x1, x2), … */
export function* unorderedPairs<T>(xs: readonly T[]): Generator<[T, T]> {
  for (let i = 0; i < xs.length; i++)
    for (let j = i + 1; j < xs.length; j++) yield [xs[i]!, xs[j]!];
}
