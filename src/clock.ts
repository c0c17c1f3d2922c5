/**
 * A probe without a real-time clock boots at a wrong time (often 1970) and jumps when NTP
 * synchronises. Timestamps taken before the jump are marked, and corrected once the jump is seen:
 *
 *   at start:  wall0 = Date.now(), mono0 = performance.now()     (wall − mono = the old offset)
 *   at sync:   wall1 − mono1 = the new offset
 *   jump = (wall1 − mono1) − (wall0 − mono0)
 *   a time t taken before the sync (t < wall0 + (mono1 − mono0), the old timeline) is t + jump
 *
 * The monotonic clock does not jump, so the correction is exact up to clock drift before the
 * sync. A clock that was already synchronised at start gives jump 0 and nothing is marked.
 */
export interface ClockState {
  synced: boolean;
  /** Set once the clock became synchronised after the start: what was added to earlier times. */
  correctedByMs?: number;
}

export class ClockTracker {
  private readonly wall0: number;
  private readonly mono0: number;
  private syncedAtStart: boolean | undefined;
  private synced = false;
  private jumpMs = 0;
  /** End of the old (unsynchronised) timeline, in old-timeline ms; Infinity while unsynced. */
  private oldTimelineEnd = Number.POSITIVE_INFINITY;

  constructor(private readonly now: () => number = Date.now, private readonly mono: () => number = () => performance.now()) {
    this.wall0 = now();
    this.mono0 = mono();
  }

  /** Tell the tracker what the system says about synchronisation (doctor's clock check). */
  update(syncedNow: boolean): void {
    if (this.syncedAtStart === undefined) {
      this.syncedAtStart = syncedNow;
      if (syncedNow) {
        this.synced = true;
        this.oldTimelineEnd = Number.NEGATIVE_INFINITY; // nothing to correct
        return;
      }
    }
    if (this.synced || !syncedNow) return;
    const monoNow = this.mono();
    this.jumpMs = Math.round(this.now() - monoNow - (this.wall0 - this.mono0));
    this.oldTimelineEnd = this.wall0 + (monoNow - this.mono0);
    this.synced = true;
  }

  state(): ClockState {
    if (!this.synced) return { synced: false };
    return this.syncedAtStart ? { synced: true } : { synced: true, correctedByMs: this.jumpMs };
  }

  /** Whether a timestamp was taken on the old, unsynchronised timeline. */
  isUnsynced(t: number): boolean {
    return !this.synced || t < this.oldTimelineEnd;
  }

  /** A timestamp moved onto the synchronised timeline (unchanged when there is nothing to correct yet). */
  correct(t: number): number {
    return this.synced && t < this.oldTimelineEnd ? t + this.jumpMs : t;
  }
}
