// oracle_reward.js: the world's oracle (oracle_stdio.ts and the judge it
// imports) bundled into one file that plain `node` runs, with no
// node_modules beside it, so a recipe folder carries its reward to a GPU
// machine. esbuild does the bundling because the judge is TypeScript spread
// over the world's modules; the result is about 60 KB.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where oracle_stdio.ts is: beside this file in the sources, or back in the sources from build/kernel-lib/recipes. */
function entryPoint(): string {
  const candidates = [path.join(__dirname, 'oracle_stdio.ts'), path.join(__dirname, '..', '..', '..', 'kernel-lib', 'recipes', 'oracle_stdio.ts')];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`exportTrlRecipe: the oracle's source oracle_stdio.ts is missing (looked for ${candidates.join(' and ')})`);
  return found;
}

/** The bundled oracle as JavaScript source. */
export function bundleOracle(): string {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = require('esbuild');
  } catch {
    throw new Error('exportTrlRecipe: bundling the oracle reward needs the esbuild package (npm ci installs it)');
  }
  const result = esbuild.buildSync({
    entryPoints: [entryPoint()],
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    banner: { js: '// The world\'s oracle reward, bundled by the workbook\'s exportTrlRecipe: node oracle_reward.js reads {"task", "reply"} lines and writes {"score", "verdict"} lines.' },
  });
  return result.outputFiles[0].text;
}
