// Chooses the fastest tfjs backend that works on this machine, and says why
// each faster one was passed over. Order: tfjs-node-gpu (CUDA), tfjs-node
// (native TensorFlow on CPU), WebGPU, wasm, cpu.
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { attachGemm } from './gemm';
import { registerProjectKernels } from './kernels';

export type BackendChoice = 'node-gpu' | 'node' | 'webgpu' | 'wasm' | 'cpu';

export const BACKEND_ORDER: readonly BackendChoice[] = ['node-gpu', 'node', 'webgpu', 'wasm', 'cpu'];

/** Environment variable that forces a backend, e.g. WORKBOOK_BACKEND=cpu. */
export const BACKEND_ENV = 'WORKBOOK_BACKEND';

export interface BackendAttempt {
  backend: BackendChoice;
  ok: boolean;
  /** Why it was skipped or failed; for the chosen one, why it was chosen. */
  reason: string;
}

export interface BackendReport {
  /** The choice, in this project's names. */
  backend: BackendChoice;
  /** tfjs's own name for it (`tf.getBackend()`): 'tensorflow', 'webgpu', 'wasm' or 'cpu'. */
  tfjsBackend: string;
  /** How the choice was made. */
  requested: 'auto' | 'argument' | 'environment';
  /** Every backend tried, in order, up to and including the chosen one. */
  attempts: BackendAttempt[];
  /** Kernels this project registered for the chosen backend. */
  projectKernels: string[];
  /** Threads the backend computes with (1 for wasm under Node). */
  threads: number | null;
  /** What multiplies matrices on wasm: the project's GEMM (with relaxed-SIMD FMA) and XNNPACK, or XNNPACK alone, and why. */
  matMul?: string;
  versions: Record<string, string>;
}

class Skip extends Error {}

/** The name and version a package declares, or null when it is not installed. */
function installedPackage(pkg: string): { name: string; version: string } | null {
  try {
    const file = require.resolve(`${pkg}/package.json`);
    const { name, version } = JSON.parse(fs.readFileSync(file, 'utf8'));
    return { name, version };
  } catch {
    return null;
  }
}

/**
 * Loads an optional native binding. danfojs-node's npm override maps the name
 * '@tensorflow/tfjs-node' onto plain tfjs, so a package found under that name
 * may not be the binding at all; check the name it declares.
 */
function loadNativeBinding(pkg: string, purpose: string): void {
  const name = installedPackage(pkg)?.name ?? null;
  if (name === null) throw new Skip(`${pkg} is not installed (npm install ${pkg} ${purpose})`);
  if (name !== pkg) throw new Skip(`${pkg} resolves to ${name} (an npm alias), not the native binding`);
  try {
    require(pkg);
  } catch (err) {
    throw new Skip(`${pkg} is installed but failed to load: ${(err as Error).message.split('\n')[0]}`);
  }
}

async function activate(tfjsName: string): Promise<void> {
  if (!tf.findBackendFactory(tfjsName)) throw new Skip(`tfjs backend '${tfjsName}' is not registered`);
  let ok = false;
  try {
    ok = await tf.setBackend(tfjsName);
  } catch (err) {
    throw new Skip(`tfjs could not start '${tfjsName}': ${(err as Error).message.split('\n')[0]}`);
  }
  // setBackend can report failure and silently leave another backend active.
  if (!ok || tf.getBackend() !== tfjsName) {
    throw new Skip(`tfjs could not start '${tfjsName}' (active backend is '${tf.getBackend()}')`);
  }
}

async function setUpWebGpu(): Promise<void> {
  const nav = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator;
  if (!nav?.gpu) {
    // In Node, WebGPU comes from the 'webgpu' package (Dawn), when a user installs it.
    let dawn: { create(flags: string[]): unknown; globals: Record<string, unknown> };
    try {
      dawn = require('webgpu');
    } catch {
      throw new Skip("no WebGPU in this runtime (in Node it needs the optional 'webgpu' package: npm install webgpu)");
    }
    Object.assign(globalThis, dawn.globals);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.create([]) }, configurable: true });
  }
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<unknown> } } }).navigator.gpu;
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) throw new Skip('WebGPU is available but found no GPU adapter');
  try {
    require('@tensorflow/tfjs-backend-webgpu');
  } catch (err) {
    throw new Skip(`@tensorflow/tfjs-backend-webgpu failed to load: ${(err as Error).message.split('\n')[0]}`);
  }
}

const SETUP: Record<BackendChoice, () => Promise<{ tfjsName: string; reason: string }>> = {
  'node-gpu': async () => {
    loadNativeBinding('@tensorflow/tfjs-node-gpu', 'on a machine with an NVIDIA GPU, CUDA and cuDNN');
    return { tfjsName: 'tensorflow', reason: 'native TensorFlow with CUDA (tfjs-node-gpu)' };
  },
  node: async () => {
    loadNativeBinding('@tensorflow/tfjs-node', 'for native multi-threaded TensorFlow on CPU');
    return { tfjsName: 'tensorflow', reason: 'native TensorFlow on CPU (tfjs-node)' };
  },
  webgpu: async () => {
    await setUpWebGpu();
    return { tfjsName: 'webgpu', reason: 'WebGPU adapter found' };
  },
  wasm: async () => {
    try {
      require('@tensorflow/tfjs-backend-wasm');
    } catch (err) {
      throw new Skip(`@tensorflow/tfjs-backend-wasm failed to load: ${(err as Error).message.split('\n')[0]}`);
    }
    return { tfjsName: 'wasm', reason: 'WebAssembly with SIMD (single-threaded under Node)' };
  },
  cpu: async () => ({ tfjsName: 'cpu', reason: 'plain JavaScript, always available (slowest)' }),
};

function isBackendChoice(value: string): value is BackendChoice {
  return (BACKEND_ORDER as readonly string[]).includes(value);
}

function threadsOf(tfjsName: string): number | null {
  if (tfjsName === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount(): number };
    return wasm.getThreadsCount();
  }
  return tfjsName === 'cpu' ? 1 : null;
}

/**
 * Picks and activates a backend. With `backend` (or WORKBOOK_BACKEND) set, only
 * that one is tried and failing to start it is an error, never a silent
 * fallback; otherwise the first that works in BACKEND_ORDER wins.
 */
export async function selectBackend(backend?: BackendChoice | 'auto'): Promise<BackendReport> {
  const fromEnv = process.env[BACKEND_ENV]?.trim();
  let requested: BackendReport['requested'] = 'auto';
  let wanted: string | undefined;
  if (backend && backend !== 'auto') {
    requested = 'argument';
    wanted = backend;
  } else if (fromEnv && fromEnv !== 'auto') {
    requested = 'environment';
    wanted = fromEnv;
  }
  if (wanted !== undefined && !isBackendChoice(wanted)) {
    const where = requested === 'environment' ? `${BACKEND_ENV}=${wanted}` : `backend '${wanted}'`;
    throw new Error(`runtime: unknown ${where}; expected one of auto, ${BACKEND_ORDER.join(', ')}`);
  }
  const candidates = wanted ? [wanted as BackendChoice] : BACKEND_ORDER;
  const attempts: BackendAttempt[] = [];
  for (const choice of candidates) {
    try {
      const { tfjsName, reason } = await SETUP[choice]();
      await activate(tfjsName);
      const projectKernels = registerProjectKernels(tfjsName);
      const matMul = tfjsName === 'wasm' ? await attachGemm(tf.backend() as unknown as BackendWasm) : undefined;
      attempts.push({ backend: choice, ok: true, reason: wanted ? `requested by ${requested}; ${reason}` : reason });
      const versions: Record<string, string> = {};
      for (const pkg of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-webgpu']) {
        const found = installedPackage(pkg);
        if (found?.name === pkg) versions[pkg] = found.version;
      }
      return { backend: choice, tfjsBackend: tf.getBackend(), requested, attempts, projectKernels, threads: threadsOf(tfjsName), matMul, versions };
    } catch (err) {
      if (!(err instanceof Skip)) throw err;
      attempts.push({ backend: choice, ok: false, reason: err.message });
    }
  }
  const tried = attempts.map((a) => `${a.backend}: ${a.reason}`).join('; ');
  throw new Error(`runtime: no usable backend (${tried})`);
}

/** One line a person reads: the choice and why each faster one was skipped. */
export function describeBackend(report: BackendReport): string {
  const chosen = report.attempts[report.attempts.length - 1];
  const lines = [`backend: ${report.backend} (tfjs '${report.tfjsBackend}') - ${chosen.reason}`];
  for (const a of report.attempts.slice(0, -1)) lines.push(`  skipped ${a.backend}: ${a.reason}`);
  if (report.projectKernels.length) lines.push(`  project kernels: ${report.projectKernels.join(', ')}`);
  return lines.join('\n');
}
