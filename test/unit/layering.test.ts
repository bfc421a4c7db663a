import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const ROOT = path.resolve(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: ROOT });

/** Lints one small fixture as if it were the file at `file`, with the project's own config. */
async function lint(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('the layering rule (eslint.config.js)', () => {
  it('fails an import inside native/ that runs back up, type-only or not', async () => {
    const value = await lint(
      'native/planner/fixture.ts',
      "import { Coordinator } from '../coordinator/coordinator.js';\nexport const c = Coordinator;\n",
    );
    assert.equal(value.length, 1);
    assert.match(
      value[0]!,
      /^local\/native-layers: native\/planner .* may not import native\/coordinator/,
    );
    const type = await lint(
      'native/model/fixture.ts',
      "import type { Sampler } from '../data/sampler.js';\nexport type S = Sampler;\n",
    );
    assert.match(type.join('\n'), /native\/model .* may not import native\/data/);
    const deep = await lint(
      'native/backend/wasmKernels/fixture.ts',
      "export { StageHost } from '../../pipeline/stageHost.js';\n",
    );
    assert.match(deep.join('\n'), /native\/backend .* may not import native\/pipeline/);
    const entry = await lint('native/web/fixture.ts', "export * from '../cli/command.js';\n");
    assert.match(entry.join('\n'), /native\/web .* may not import native\/cli/);
  });

  it('fails an import between two folders of one layer', async () => {
    const messages = await lint(
      'native/data/fixture.ts',
      "import { makePlan } from '../planner/plan.js';\nexport const p = makePlan;\n",
    );
    assert.match(
      messages.join('\n'),
      /native\/data may not import native\/planner: folders on one layer/,
    );
  });

  it('passes imports that run down, and names a folder missing from the table', async () => {
    assert.deepEqual(
      await lint(
        'native/planner/fixture.ts',
        "import { mulberry32 } from '../util/random.js';\nimport { SCHEDULE_KINDS } from '../common/names.js';\nexport const x = [mulberry32, SCHEDULE_KINDS];\n",
      ),
      [],
    );
    assert.match(
      (await lint('native/newthing/fixture.ts', "export * from '../util/random.js';\n")).join('\n'),
      /native\/newthing is not in the layer table/,
    );
  });

  it('keeps native/common environment-free', async () => {
    assert.match(
      (
        await lint('native/common/fixture.ts', "import fs from 'node:fs';\nexport const f = fs;\n")
      ).join('\n'),
      /native\/common is environment-free .* not "node:fs"/,
    );
    assert.match(
      (await lint('native/common/fixture.ts', "export * from '../util/random.js';\n")).join('\n'),
      /native\/common is environment-free/,
    );
    assert.match(
      (await lint('native/common/fixture.ts', 'export const env = process.env;\n')).join('\n'),
      /no-restricted-globals/,
    );
    assert.deepEqual(
      await lint(
        'native/common/fixture.ts',
        "import { z } from 'zod';\nexport const s = z.string();\n",
      ),
      [],
    );
  });

  it('lets the renderer import native/common at run time and native/api as types only', async () => {
    assert.deepEqual(
      await lint(
        'renderer/fixture.ts',
        "import type { PlanFile } from '../native/api/types.js';\nimport { formatBytes } from '../native/common/format.js';\nexport const f = (p: PlanFile) => formatBytes(p.batch);\n",
      ),
      [],
    );
    assert.match(
      (
        await lint(
          'renderer/fixture.ts',
          "import { makePlan } from '../native/planner/plan.js';\nexport const p = makePlan;\n",
        )
      ).join('\n'),
      /renderer\/ reaches the engine only through/,
    );
    assert.match(
      (
        await lint(
          'renderer/fixture.ts',
          "import { operations } from '../native/api/operations.js';\nexport const o = operations;\n",
        )
      ).join('\n'),
      /renderer\/ may import only types from native\/api/,
    );
  });
});
