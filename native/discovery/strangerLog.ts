/** One address that sent beacons we could not authenticate. */
export interface StrangerSummary {
  address: string;
  beacons: number;
  firstSeen: number;
  lastSeen: number;
}

export const MAX_STRANGER_ADDRESSES = 32;

/**
 * Counts unauthenticated beacons per source address, for the one line a person sees ("N unauthenticated
 * beacons from ADDR"). Bounded: past the limit the least recently heard address is forgotten, so a flood
 * from spoofed addresses costs a fixed amount of memory.
 */
export class StrangerLog {
  private readonly byAddress = new Map<string, StrangerSummary>();

  constructor(private readonly limit = MAX_STRANGER_ADDRESSES) {}

  record(address: string, now: number): void {
    const seen = this.byAddress.get(address);
    if (seen) {
      seen.beacons++;
      seen.lastSeen = now;
      // Map order is insertion order: re-inserting keeps the least recently heard first.
      this.byAddress.delete(address);
      this.byAddress.set(address, seen);
      return;
    }
    if (this.byAddress.size >= this.limit) {
      const oldest = this.byAddress.keys().next().value;
      if (oldest !== undefined) this.byAddress.delete(oldest);
    }
    this.byAddress.set(address, { address, beacons: 1, firstSeen: now, lastSeen: now });
  }

  get size(): number {
    return this.byAddress.size;
  }

  summary(): StrangerSummary[] {
    return [...this.byAddress.values()].reverse().map((s) => ({ ...s }));
  }
}
