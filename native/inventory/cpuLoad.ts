import os from 'node:os';

/** CPU load between two calls, from the kernel's per-core tick counters: no child process, no blocking. */
export class CpuLoadMeter {
  private last = this.totals();

  private totals(): { idle: number; total: number } {
    let idle = 0;
    let total = 0;
    for (const c of os.cpus()) {
      idle += c.times.idle;
      total += c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle;
    }
    return { idle, total };
  }

  /** Fraction of all cores busy since the previous call, 0..1. */
  sample(): number {
    const now = this.totals();
    const dTotal = now.total - this.last.total;
    const dIdle = now.idle - this.last.idle;
    this.last = now;
    if (dTotal <= 0) return 0;
    return Math.min(1, Math.max(0, 1 - dIdle / dTotal));
  }
}
