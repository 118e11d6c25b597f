// Data parallelism over worker_threads. tfjs's wasm backend runs on one
// thread in Node, so each worker starts its own backend and model replica;
// every step the main thread splits the batch by rows, each worker returns
// the summed loss and gradients of its rows, and the loop adds them up before
// one optimizer update and sends the new weights back. Summing (not
// averaging) per-worker results makes the update the same as one thread's on
// the whole batch, up to float rounding. Dropout masks are drawn per global
// row (each part's context carries its first row), so with dropout too.
//
// An idle worker does not keep the process alive (it is unref'd between
// requests): a script that passes startWorkers(n) straight into train() ends
// when its work ends. close() ends the threads at once.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Decoder } from '../model/decoder';
import type { LoraConfig } from '../model/lora_state';
import type { AdamWParam } from './adamw';
import type { ObjectiveContext } from './objective';
import type { GradientResult } from './step';
import type { BackendChoice } from '../runtime/backend';

export interface GradientWorkers {
  /** Number of workers; batches are split into this many parts. */
  readonly size: number;
  /** Sends the model (config, weights, adapters) to every worker. */
  load(model: Decoder): Promise<void>;
  /** Sends new values of the trainable tensors. */
  update(params: AdamWParam[]): Promise<void>;
  /** Gradients of each part, computed in parallel (part i on worker i, with contexts[i]). */
  compute(parts: unknown[], contexts: ObjectiveContext[]): Promise<GradientResult[]>;
  close(): Promise<void>;
}

export interface WireTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

export type WorkerRequest =
  | { kind: 'init'; backend: BackendChoice }
  | { kind: 'tensor'; group: 'weights' | 'lora'; tensor: WireTensor }
  | { kind: 'load'; config: Decoder['config']; lora?: { config: LoraConfig; projections: string[] } }
  | { kind: 'update'; params: WireTensor[] }
  | { kind: 'compute'; objective: string; batch: unknown; context: ObjectiveContext };

export type WorkerReply = { ok: true; result?: GradientResult } | { ok: false; error: string };

/** One tensor for one worker: its own copy of the values, to transfer (not clone) with the message. */
function wireTensor(name: string, t: { shape: number[]; dtype: string; dataSync(): unknown }): WireTensor {
  const data = t.dataSync();
  const values = data instanceof Float32Array && t.dtype === 'float32' ? data : Float32Array.from(data as ArrayLike<number>);
  return { name, shape: t.shape.slice(), values };
}

function spawn(): Worker {
  const entry = path.join(__dirname, `worker_entry${path.extname(__filename)}`);
  // Under tsx (tests, scripts) the entry is TypeScript; register tsx's require hook in the worker first.
  if (entry.endsWith('.ts')) return new Worker(`require('tsx/cjs'); require(${JSON.stringify(entry)});`, { eval: true });
  return new Worker(entry);
}

class Channel {
  private pending: { resolve: (r: WorkerReply) => void; reject: (e: Error) => void } | null = null;
  /** Set once the thread has ended (closed or crashed): a request then fails at once instead of waiting forever. */
  private exitCode: number | null = null;
  constructor(readonly worker: Worker, readonly index: number) {
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const p = this.pending;
      this.pending = null;
      p?.resolve(reply);
    });
    worker.on('error', (e) => {
      const p = this.pending;
      this.pending = null;
      p?.reject(new Error(`train worker ${index}: ${e.message}`));
    });
    worker.on('exit', (code) => {
      this.exitCode = code;
      const p = this.pending;
      this.pending = null;
      p?.reject(new Error(`train worker ${index} exited with code ${code}`));
    });
  }
  async request(message: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<GradientResult | undefined> {
    if (this.pending) throw new Error(`train worker ${this.index}: a request is already running`);
    if (this.exitCode !== null) throw new Error(`train worker ${this.index} has exited (code ${this.exitCode}); start new workers with startWorkers`);
    // Held while a reply is awaited: with nothing else pending, an unref'd
    // worker would let the process exit in the middle of a step.
    this.worker.ref();
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(message, transfer);
    }).finally(() => this.worker.unref());
    if (!reply.ok) throw new Error(`train worker ${this.index}: ${reply.error}`);
    return reply.result;
  }
}

/** Starts `count` workers, each with its own tfjs backend (default: the one this thread uses). */
export async function startWorkers(count: number, options: { backend: BackendChoice; objective: string }): Promise<GradientWorkers> {
  if (!(Number.isInteger(count) && count >= 1)) throw new Error(`train: workers must be a positive integer, got ${count}`);
  const channels = Array.from({ length: count }, (_, i) => new Channel(spawn(), i));
  const all = (f: (c: Channel) => Promise<unknown>) => Promise.all(channels.map(f));
  try {
    await all((c) => c.request({ kind: 'init', backend: options.backend }));
  } catch (e) {
    await Promise.all(channels.map((c) => c.worker.terminate()));
    throw e;
  }
  return {
    size: count,
    async load(model) {
      // Tensor by tensor, each worker's copy transferred: at no point are all
      // the weights held in the JavaScript heap, once or once per worker (at
      // SmolLM2-135M's size, 538 MB each), beside the wasm heaps that keep them.
      // tfjs's wasm readSync copies out of its heap, so each dataSync() is a
      // fresh buffer that can be handed over.
      const send = (group: 'weights' | 'lora', map: Map<string, { shape: number[]; dtype: string; dataSync(): unknown }>) =>
        Promise.all(channels.map(async (c) => {
          for (const [name, t] of map) {
            const tensor = wireTensor(name, t);
            await c.request({ kind: 'tensor', group, tensor }, [tensor.values.buffer as ArrayBuffer]);
          }
        }));
      await send('weights', model.weights);
      if (model.lora) await send('lora', model.lora.tensors);
      const lora = model.lora ? { config: model.lora.config, projections: model.lora.projections } : undefined;
      await all((c) => c.request({ kind: 'load', config: model.config, lora }));
    },
    async update(params) {
      const wireParams = params.map((p) => ({ name: p.name, shape: p.shape, values: p.values }));
      await all((c) => c.request({ kind: 'update', params: wireParams }));
    },
    async compute(parts, contexts) {
      if (parts.length > channels.length) throw new Error(`train: ${parts.length} parts for ${channels.length} workers`);
      if (contexts.length !== parts.length) throw new Error(`train: ${parts.length} parts but ${contexts.length} contexts`);
      const results = await Promise.all(
        parts.map((batch, i) => channels[i].request({ kind: 'compute', objective: options.objective, batch, context: contexts[i] })),
      );
      return results.map((r) => r!);
    },
    async close() {
      await Promise.all(channels.map((c) => c.worker.terminate()));
    },
  };
}
