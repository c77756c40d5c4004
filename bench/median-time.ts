/** The benchmarks' timer: one warm-up call, then the median wall time of `repetitions` calls, in ms. */
export async function medianMs(work: () => Promise<unknown> | unknown, repetitions: number): Promise<number> {
  await work();
  const times: number[] = [];
  for (let index = 0; index < repetitions; index++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
