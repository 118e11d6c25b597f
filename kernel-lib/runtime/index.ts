export { BACKEND_ENV, BACKEND_ORDER, describeBackend, selectBackend } from './backend';
export type { BackendAttempt, BackendChoice, BackendReport } from './backend';
export { initRuntime, RUNTIME_REPORT_ENV } from './init';
export type { RuntimeOptions, RuntimeReport } from './init';
export { registerProjectKernels, WASM_KERNELS } from './kernels';
export { checkTensorLeaks } from './leaks';
export type { LeakCheckOptions, LeakCheckResult } from './leaks';
export { currentGlobalSeed, hashString, randomStream, seedEverything, unseed } from './seed';
export { writeFileAtomic, writeFileSynced } from './files';
