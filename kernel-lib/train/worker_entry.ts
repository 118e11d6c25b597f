// The worker side of data parallelism: a model replica on its own backend
// that answers load / update / compute requests from the training loop.
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../runtime/backend';
import { decoderFromWeights, disposeDecoder, type Decoder } from '../model/decoder';
import { loraState } from '../model/lora_state';
import { objectiveByName } from './objectives';
import { writeParams } from './params';
import { computePass } from './step';
import type { WorkerReply, WorkerRequest } from './workers';

let model: Decoder | null = null;
/** Tensors received for the next load, by group. */
const received = { weights: new Map<string, tf.Tensor>(), lora: new Map<string, tf.Tensor>() };

async function handle(msg: WorkerRequest): Promise<WorkerReply> {
  switch (msg.kind) {
    case 'init':
      await selectBackend(msg.backend);
      return { ok: true };
    case 'tensor': {
      const { name, shape, values } = msg.tensor;
      received[msg.group].get(name)?.dispose();
      received[msg.group].set(name, tf.tensor(values, shape, 'float32'));
      return { ok: true };
    }
    case 'load': {
      if (model) disposeDecoder(model);
      model = decoderFromWeights(msg.config, new Map(received.weights));
      if (msg.lora) model.lora = loraState(msg.lora.config, msg.lora.projections, new Map(received.lora));
      received.weights.clear();
      received.lora.clear();
      return { ok: true };
    }
    case 'update':
      if (!model) throw new Error('update before load');
      writeParams(model, msg.params);
      return { ok: true };
    case 'compute': {
      if (!model) throw new Error('compute before load');
      const result = computePass(model, objectiveByName(msg.objective), msg.batch, msg.context);
      return { ok: true, result };
    }
  }
}

parentPort!.on('message', (msg: WorkerRequest) => {
  handle(msg).then(
    (reply) => {
      const transfer = reply.ok && reply.result ? reply.result.grads.map((g) => g.buffer as ArrayBuffer) : [];
      parentPort!.postMessage(reply, transfer);
    },
    (e: Error) => parentPort!.postMessage({ ok: false, error: e.stack ?? e.message } satisfies WorkerReply),
  );
});
