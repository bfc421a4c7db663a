// The webgpu tests run on Mesa's software Vulkan (llvmpipe) where no GPU is at hand: they force the
// webgpu backend, which is the only way a software adapter is ever used, and say so once. Where
// Dawn finds no adapter at all (no Vulkan loader, no driver) they are skipped with the reason.
import { loadBackend } from '../../native/backend/loadBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import { adapterLine } from '../../native/backend/webgpuBackend.js';

export type WebgpuForTest = { tf: Tf; adapter: string } | { skip: string };

let loaded: Promise<WebgpuForTest> | null = null;

export function webgpuForTest(): Promise<WebgpuForTest> {
  loaded ??= (async () => {
    const r = await loadBackend('webgpu', { allowSoftware: true });
    if (!r.ok) return { skip: `webgpu unavailable here: ${r.reason}` };
    const adapter = r.adapter ? adapterLine(r.adapter) : 'unknown adapter';
    if (r.adapter?.software)
      console.log(`# webgpu tests force the software adapter: ${adapter} (figures prove it runs)`);
    return { tf: r.tf, adapter };
  })();
  return loaded;
}
