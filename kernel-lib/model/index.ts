// The decoder, its checkpoints, LoRA adapters and generation.
export { fromHFConfig, flopsPerToken, modelConfig, parameterCount, toHFConfig, validateConfig } from './config';
export type { ModelConfig, ModelConfigInput } from './config';
export { createDecoder, decoderFromWeights, disposeCache, disposeDecoder, forward, outputLogits, rmsNorm } from './decoder';
export type { Decoder, ForwardOptions, ForwardResult, KVCache } from './decoder';
export { initWeights, weightSpecs } from './weights';
export type { WeightSpec, Weights } from './weights';
export { encodeSafetensors, readSafetensors, writeSafetensors } from './safetensors';
export type { NamedArray } from './safetensors';
export { exportWeights, loadCheckpoint, modelFiles, saveCheckpoint, writeCheckpointFolder } from './checkpoint';
export type { LoadedCheckpoint } from './checkpoint';
export { adapterFiles, addLora, loadAdapters, loraProjections, mergeLora, removeLora, saveAdapters } from './lora';
export type { LoraConfig } from './lora';
export { generate } from './generate';
export type { GenerateOptions, GenerateResult } from './generate';
export { argmax, sampleToken } from './sampling';
export type { SamplingOptions } from './sampling';
