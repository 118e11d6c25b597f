// Guards that keep non-finite numbers out of the model and its checkpoints.
// A loss or gradient norm can stay finite while an update (a learning rate far
// too large) throws the weights to 1e20: the next forward pass then fails,
// and a checkpoint saved in between would hold weights that cannot resume.
// So a checkpoint is written only after its weights have given a finite loss
// and gradient (see trainer.ts), and every update is scanned before it is
// written into the model.
import type { Decoder } from '../model/decoder';
import type { AdamWParam } from './adamw';
import { globalNorm } from './gradients';
import type { Objective, ObjectiveContext } from './objective';
import { computeGradients } from './step';

/** Thrown when the loss, gradients or weights stop being finite; the last good checkpoint is left untouched. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
    readonly lastCheckpoint: string | null,
    /** What else is known: which weight went bad, or whether the weights or the batch are to blame. */
    readonly detail?: string,
  ) {
    super(
      `train: step ${step}: ${Number.isFinite(loss) ? `gradient norm is ${gradNorm}` : `loss is ${loss}`}; stopped before the update. ` +
        (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint}.` : 'No checkpoint was saved yet.') +
        (detail ? ` ${detail}` : '') +
        ' Lower the learning rate, check the data, or resume from the checkpoint.',
    );
    this.name = 'NonFiniteLossError';
  }
}

/** The first parameter entry that is NaN or infinite, or null. */
export function firstNonFinite(params: AdamWParam[]): { name: string; index: number; value: number } | null {
  for (const p of params) {
    const v = p.values;
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return { name: p.name, index: i, value: v[i] };
  }
  return null;
}

/**
 * The mean loss and gradient norm of the first of `batches` on which the
 * model's current weights give a non-finite one (no dropout), or null: the
 * test a checkpoint must pass before it is saved when no next step vouches
 * for it. `context` may ask for gradient checkpointing (its dropout seed is
 * left out).
 */
export function nonFiniteOn<B>(model: Decoder, objective: Objective<B>, batches: B[], context: ObjectiveContext = {}): { loss: number; gradNorm: number } | null {
  for (const b of batches) {
    const r = computeGradients(model, objective, b, { gradientCheckpointing: context.gradientCheckpointing });
    const loss = r.lossSum / r.count;
    const gradNorm = globalNorm(r.grads) / r.count;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) return { loss, gradNorm };
  }
  return null;
}
