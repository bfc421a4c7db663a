import os from 'node:os';
import si from 'systeminformation';
import type { GpuInfo, StaticInventory } from '../protocol/inventorySchemas.js';
import { queryNvidiaSmi } from './nvidiaSmi.js';

const MIB = 1024 * 1024;

function mergeGpus(
  fromSi: si.Systeminformation.GraphicsControllerData[],
  fromSmi: GpuInfo[],
): GpuInfo[] {
  // nvidia-smi is authoritative for NVIDIA cards; systeminformation adds the others (AMD, Intel, Apple).
  const merged = [...fromSmi];
  for (const c of fromSi) {
    const isNvidia = /nvidia/i.test(c.vendor) || /nvidia/i.test(c.model);
    if (isNvidia && fromSmi.length > 0) continue;
    merged.push({
      index: merged.length,
      vendor: c.vendor || 'unknown',
      model: c.model || 'unknown GPU',
      vramBytes: c.vram ? c.vram * MIB : null,
      driver: c.driverVersion ?? null,
      busId: c.pciBus || c.busAddress || null,
      uuid: null,
    });
  }
  return merged;
}

/** What this machine is, read once at agent start. GPU facts come from nvidia-smi where it exists. */
export async function readStaticInventory(nvidiaSmi = 'nvidia-smi'): Promise<StaticInventory> {
  const [osInfo, cpu, mem, smi] = await Promise.all([
    si.osInfo(),
    si.cpu(),
    si.mem(),
    queryNvidiaSmi(nvidiaSmi),
  ]);
  // si.graphics shells out synchronously (lspci, and nvidia-smi via execSync); once at start is tolerable.
  const graphics = await si
    .graphics()
    .catch(() => ({ controllers: [] as si.Systeminformation.GraphicsControllerData[] }));
  const smiGpus = smi.ok ? smi.gpus.map((g) => g.info) : [];
  const gpus = mergeGpus(graphics.controllers, smiGpus);
  let gpuNote: string | null = null;
  if (gpus.length === 0) gpuNote = smi.ok ? 'no GPU found' : `no GPU found (${smi.reason})`;
  else if (!smi.ok) gpuNote = `no live GPU figures: ${smi.reason}`;

  const network = Object.entries(os.networkInterfaces()).flatMap(([name, addrs]) =>
    (addrs ?? [])
      .filter((a) => a.family === 'IPv4')
      .map((a) => ({ name, ip4: a.address, netmask: a.netmask, mac: a.mac, internal: a.internal })),
  );

  return {
    hostname: os.hostname(),
    os: {
      platform: osInfo.platform,
      distro: osInfo.distro,
      release: osInfo.release,
      arch: osInfo.arch,
    },
    cpu: {
      manufacturer: cpu.manufacturer,
      brand: cpu.brand,
      cores: cpu.cores || os.cpus().length,
      physicalCores: cpu.physicalCores,
      speedGHz: cpu.speedMax || cpu.speed,
    },
    memory: { totalBytes: mem.total },
    network,
    gpus,
    gpuNote,
  };
}
