// Gradient bookkeeping on flat arrays: summing micro-batches and workers,
// scaling, the global norm (which also detects NaN/Inf) and clipping.

/** acc += g, element-wise, for each parameter. */
export function addInto(acc: Float32Array[], grads: ArrayLike<number>[]): void {
  acc.forEach((a, k) => {
    const g = grads[k];
    for (let i = 0; i < a.length; i++) a[i] += g[i];
  });
}

export function scale(grads: Float32Array[], factor: number): void {
  for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= factor;
}

/** sqrt of the sum of squares over all gradients; NaN or Infinity if any entry is. */
export function globalNorm(grads: Float32Array[]): number {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  return Math.sqrt(sum);
}

/** Scales gradients so their global norm is at most maxNorm; returns the norm before clipping. */
export function clipByGlobalNorm(grads: Float32Array[], maxNorm: number): number {
  const norm = globalNorm(grads);
  if (maxNorm > 0 && Number.isFinite(norm) && norm > maxNorm) scale(grads, maxNorm / (norm + 1e-6));
  return norm;
}
