/**
 * Timestamps of a probe without a battery clock: marked while the clock is not synchronised, and
 * corrected from the monotonic clock once NTP makes the wall clock jump. Clocks are scripted.
 */
import { describe, expect, it } from 'vitest';
import { ClockTracker } from '../../src/clock.js';

function fakeClocks(wallStart: number) {
  let wall = wallStart;
  let mono = 1000;
  return {
    now: () => wall,
    mono: () => mono,
    advance(ms: number) { wall += ms; mono += ms; },
    jumpWall(ms: number) { wall += ms; },
  };
}

describe('ClockTracker', () => {
  it('marks times before synchronisation and corrects them by the jump once synchronised', () => {
    const c = fakeClocks(0); // the Pi believes it is 1970-01-01
    const t = new ClockTracker(c.now, c.mono);
    t.update(false);
    c.advance(60_000);
    const seen = c.now(); // a packet one minute after boot, on the 1970 timeline
    expect(t.state()).toEqual({ synced: false });
    expect(t.isUnsynced(seen)).toBe(true);
    c.advance(30_000);
    const realNow = Date.UTC(2026, 10, 22, 12, 0, 0);
    c.jumpWall(realNow - c.now()); // NTP sets the clock
    t.update(true);
    const jump = realNow - 90_000;
    expect(t.state()).toEqual({ synced: true, correctedByMs: jump });
    // The packet was seen 30 s before the sync: on the real timeline that is realNow − 30 s.
    expect(t.correct(seen)).toBe(realNow - 30_000);
    c.advance(5_000);
    expect(t.isUnsynced(c.now())).toBe(false);
    expect(t.correct(c.now())).toBe(c.now());
  });

  it('changes nothing when the clock was synchronised from the start', () => {
    const c = fakeClocks(Date.UTC(2026, 10, 22));
    const t = new ClockTracker(c.now, c.mono);
    t.update(true);
    expect(t.state()).toEqual({ synced: true });
    expect(t.isUnsynced(c.now() - 10_000)).toBe(false);
    expect(t.correct(12345)).toBe(12345);
  });

  it('leaves times alone while still unsynchronised', () => {
    const t = new ClockTracker(() => 5, () => 5);
    t.update(false);
    t.update(false);
    expect(t.correct(3)).toBe(3);
    expect(t.state().synced).toBe(false);
  });
});
