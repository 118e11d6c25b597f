// Kernels this project registers on top of a backend's own: one per file,
// listed here, registered in one loop (the tfjs registry's convention).
import * as tf from '@tensorflow/tfjs';
import { batchMatMulConfig } from './batch_mat_mul';
import { gatherV2Config } from './gather_v2';
import { identityConfig } from './identity';
import { oneHotConfig } from './one_hot';
import { sumConfig } from './sum';
import { unsortedSegmentSumConfig } from './unsorted_segment_sum';

export const WASM_KERNELS: readonly tf.KernelConfig[] = [
  unsortedSegmentSumConfig,
  oneHotConfig,
  batchMatMulConfig,
  gatherV2Config,
  identityConfig,
  sumConfig,
];

/** Registers (or replaces) this project's kernels for `backendName`; returns their names. */
export function registerProjectKernels(backendName: string): string[] {
  const configs = backendName === 'wasm' ? WASM_KERNELS : [];
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, config.backendName)) {
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    tf.registerKernel(config);
  }
  return configs.map((c) => c.kernelName);
}
