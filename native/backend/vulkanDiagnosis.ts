import fs from 'node:fs';
import path from 'node:path';

/** Where a Linux system keeps the Vulkan loader and driver manifests (ICDs). */
export interface VulkanPaths {
  libDirs: string[];
  icdDirs: string[];
}

export function defaultVulkanPaths(env: NodeJS.ProcessEnv = process.env): VulkanPaths {
  const fromEnv = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const home = env.HOME ? [path.join(env.HOME, '.local/share/vulkan/icd.d')] : [];
  return {
    libDirs: [
      ...fromEnv,
      '/lib/x86_64-linux-gnu',
      '/usr/lib/x86_64-linux-gnu',
      '/lib/aarch64-linux-gnu',
      '/usr/lib/aarch64-linux-gnu',
      '/usr/lib64',
      '/usr/lib',
      '/lib64',
      '/lib',
    ],
    icdDirs: [
      '/etc/vulkan/icd.d',
      '/usr/share/vulkan/icd.d',
      '/usr/local/share/vulkan/icd.d',
      ...home,
    ],
  };
}

function icdFilesFromEnv(env: NodeJS.ProcessEnv): string[] | null {
  const list = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  return list ? list.split(':').filter(Boolean) : null;
}

/**
 * Why Dawn found no adapter on Linux, in words a user can act on: the Vulkan loader is missing, or
 * no driver manifest is installed, or a driver exists and Dawn refused every adapter it offered.
 */
export function explainNoAdapter(
  env: NodeJS.ProcessEnv = process.env,
  paths: VulkanPaths = defaultVulkanPaths(env),
  platform: NodeJS.Platform = process.platform,
): string {
  if (platform === 'darwin')
    return 'Dawn found no Metal adapter (macOS 11 or later with a Metal GPU is needed)';
  if (platform === 'win32')
    return 'Dawn found no Direct3D 12 adapter (update the GPU driver; Windows 10 or later)';
  const loader = paths.libDirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
  if (!loader)
    return (
      'no Vulkan loader (libvulkan.so.1 not found): install libvulkan1 (Debian, Ubuntu) or ' +
      'vulkan-loader (Fedora, Arch), and the GPU vendor’s Vulkan driver'
    );
  const explicit = icdFilesFromEnv(env);
  const manifests =
    explicit ??
    paths.icdDirs.flatMap((d) => {
      try {
        return fs
          .readdirSync(d)
          .filter((f) => f.endsWith('.json'))
          .map((f) => path.join(d, f));
      } catch {
        return [];
      }
    });
  const present = manifests.filter((f) => fs.existsSync(f));
  if (present.length === 0)
    return explicit
      ? `no Vulkan driver: VK_ICD_FILENAMES/VK_DRIVER_FILES names ${explicit.join(', ')}, which does not exist`
      : 'no Vulkan driver (no ICD manifest in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d): ' +
          'install the NVIDIA driver with its Vulkan part (nvidia_icd.json), or mesa-vulkan-drivers';
  const names = present.map((f) => path.basename(f)).join(', ');
  return (
    `Dawn refused every Vulkan adapter (drivers: ${names}): the driver is too old for WebGPU ` +
    '(Mesa needs 24 or later; Debian 12 has it in bookworm-backports), or no GPU is visible to it'
  );
}
