// A process that saves a checkpoint and, when asked, stops dead at one stage
// of the folder swap so that its parent can kill -9 it there.
// Usage: node --import tsx save_child.ts DIR SEED [STAGE]
import * as fs from 'node:fs';
import { createDecoder, modelFiles, writeCheckpointFolder, type SaveStage } from '../../../kernel-lib/model';
import { tinyConfig } from '../helpers';

const [dir, seed, pauseAt] = process.argv.slice(2);
const model = createDecoder(tinyConfig(), Number(seed));
writeCheckpointFolder(dir, modelFiles(model), {
  onStage(stage: SaveStage) {
    if (stage !== pauseAt) return;
    fs.writeSync(1, `paused at ${stage}\n`);
    // Block without returning to the event loop, as a process would be when the kill lands mid-save.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
  },
});
fs.writeSync(1, 'saved\n');
