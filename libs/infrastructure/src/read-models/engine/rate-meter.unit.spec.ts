import { RateMeter } from './rate-meter';

describe('RateMeter', () => {
  it('is 0 until two samples are apart in time', () => {
    const meter = new RateMeter();
    expect(meter.rate(1000)).toBe(0);
    meter.sample(100, 1000);
    expect(meter.rate(1000)).toBe(0);
  });

  it('measures positions per second over the recent window, not since the start', () => {
    const meter = new RateMeter(10_000);
    meter.sample(0, 0);
    meter.sample(1_000, 1_000); // 1000/s early on
    for (let t = 2_000; t <= 30_000; t += 1_000) meter.sample(1_000 + (t - 1_000) * 10, t); // then 10 000/s
    expect(meter.rate(30_000)).toBeCloseTo(10_000, -1);
  });
});
