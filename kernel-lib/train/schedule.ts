// Learning-rate schedule: linear warm-up from 0, then cosine decay to minLr.

export interface ScheduleOptions {
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Floor of the cosine (default lr / 10). */
  minLr?: number;
}

/** The learning rate for update number `step` (0-based). */
export function warmupCosine(step: number, o: ScheduleOptions): number {
  const minLr = o.minLr ?? o.lr / 10;
  if (o.warmupSteps > 0 && step < o.warmupSteps) return (o.lr * (step + 1)) / o.warmupSteps;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, (step - o.warmupSteps) / span);
  return minLr + 0.5 * (o.lr - minLr) * (1 + Math.cos(Math.PI * progress));
}
