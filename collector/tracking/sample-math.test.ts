/**
 * The pure sample arithmetic over arbitrary inputs: totals are continuous across exits, samples never
 * report negative CPU and their cumulative series only rises, and the wall-clock split of a tick adds up
 * to the tick and keeps one busy thread on a CPU whatever sleeps beside it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CLOCK_TICKS_PER_SECOND } from "../procfs/procfs-parse.js";
import {
  type Departure,
  emptyCarry,
  type ProcessCounters,
  readingCpuSeconds,
  rootFinalTicks,
  sampleBetween,
  settleDepartures,
  shareLastMoments,
  slackTicks,
  tickWallSplit,
  type TreeReading,
  treeTotals,
  unseenStarts,
  zeroReading,
} from "./sample-math.js";
import {
  addThreadToWall,
  emptyThreadSeconds,
  emptyWallProducts,
  splitThreadTick,
  type ThreadSeconds,
  wallClockSplit,
} from "./thread-state.js";

const blockedKinds = ["disk", "net", "child", "idle"] as const;

const processArb = (pid: number) =>
  fc.record({
    pid: fc.constant(pid),
    ppid: fc.constant(1),
    alive: fc.constant(true),
    ownTicks: fc.nat(10_000),
    childTicks: fc.nat(10_000),
    rssBytes: fc.nat(1 << 30),
    readBytes: fc.option(fc.nat(1 << 30), { nil: null }),
    writeBytes: fc.option(fc.nat(1 << 30), { nil: null }),
  });

function context(threadSeconds = emptyThreadSeconds()) {
  return {
    reportedCpuSeconds: 0,
    totals: { rssBytes: 0, alive: 1 },
    threadSeconds,
    wallSeconds: emptyThreadSeconds(),
    threads: 1,
    processesStarted: 0,
    hostPressureUs: { cpu: null, memory: null, io: null },
    hostLoad1: null,
  };
}

describe("tree totals and exits", () => {
  const departure = (counters: ProcessCounters, more: Partial<Departure> = {}): Departure => ({
    ...counters,
    exitPpid: null,
    exitOwnTicks: null,
    recentOwnTicks: 0,
    zombie: false,
    running: false,
    reapedSinceTick: 0,
    ...more,
  });

  it("a child reaped by a live parent moves into its cutime: the total does not change", () => {
    fc.assert(
      fc.property(processArb(10), processArb(11), (parent, child) => {
        const childOf = { ...child, ppid: 10 };
        const before = treeTotals([parent, childOf], emptyCarry());
        // The parent reaps the child: the child's own and children's ticks land in its cutime.
        const reaped = { ...parent, childTicks: parent.childTicks + child.ownTicks + child.childTicks };
        const { carry } = settleDepartures({
          carry: emptyCarry(),
          departures: [departure(childOf)],
          liveRise: (pid) => (pid === 10 ? child.ownTicks + child.childTicks : undefined),
          rootPid: 10,
          outsideRise: () => undefined,
        });
        const after = treeTotals([reaped, { ...childOf, alive: false }], carry);
        expect(after.ticks).toBe(before.ticks);
        expect(after.alive).toBe(1);
      }),
    );
  });

  it("a process whose parent is outside the tree is carried whole", () => {
    fc.assert(
      fc.property(fc.array(processArb(20), { maxLength: 5 }), processArb(21), (others, root) => {
        const before = treeTotals([...others, root], emptyCarry());
        const { carry } = settleDepartures({
          carry: emptyCarry(),
          departures: [departure(root)],
          liveRise: () => undefined,
          rootPid: 21,
          outsideRise: () => undefined,
        });
        const after = treeTotals(others, carry);
        expect(after.ticks).toBe(before.ticks);
        expect(
          after.readBytes === null || before.readBytes === null || after.readBytes === before.readBytes,
        ).toBe(true);
      }),
    );
  });

  /**
   * root 1 → 2 → 3 → … each the next one's parent, all leaving in one tick; `orphaned`: exited after its
   * parent (its record names init, 999 here).
   */
  const chainOf = (members: Array<{ own: number; orphaned: boolean }>, recorded: boolean) =>
    members.map((member, index) =>
      departure(
        {
          pid: index + 1,
          ppid: index === 0 ? 100 : index,
          alive: true,
          ownTicks: member.own,
          childTicks: 0,
          rssBytes: 0,
          readBytes: 0,
          writeBytes: 0,
        },
        { exitPpid: recorded ? (index > 0 && member.orphaned ? 999 : index === 0 ? 100 : index) : null },
      ),
    );
  const membersArb = fc.array(fc.record({ own: fc.nat(500), orphaned: fc.boolean() }), {
    minLength: 1,
    maxLength: 6,
  });
  /** The root's chain: down to the first member orphaned; the rest are carried on their own. */
  const rootChain = (members: Array<{ own: number; orphaned: boolean }>) => {
    const end = members.findIndex((member, index) => index > 0 && member.orphaned);
    return members.slice(0, end === -1 ? members.length : end).reduce((sum, member) => sum + member.own, 0);
  };

  it("a chain that leaves in one tick is counted once, from records or from the reaper's rise (property)", () => {
    fc.assert(
      fc.property(
        membersArb,
        fc.nat(1000),
        fc.boolean(),
        fc.boolean(),
        (members, extra, recorded, liveReaper) => {
          const chain = rootChain(members);
          // What really happened: the root's chain reaped into its final total, plus what it used since.
          const rise = chain + extra;
          const { carry, rootChain: carried } = settleDepartures({
            carry: emptyCarry(),
            departures: chainOf(members, recorded),
            liveRise: (pid) => (pid === 100 && liveReaper ? rise : undefined),
            rootPid: 1,
            outsideRise: (pid) =>
              pid === 100 && !liveReaper ? { ticks: rise, slackTicks: null } : undefined,
          });
          const lastReadings = members.reduce((sum, member) => sum + member.own, 0);
          if (!recorded && extra > 0) {
            // Without records, what the rise cannot tell apart is kept in the chain: never counted twice.
            expect(carry.ticks).toBeLessThanOrEqual(lastReadings - chain + (liveReaper ? 0 : rise));
            return;
          }
          if (liveReaper) expect(carry.ticks).toBe(lastReadings - chain);
          else {
            expect(carried?.ticks).toBe(rise);
            expect(carry.ticks).toBe(lastReadings - chain + rise);
          }
        },
      ),
    );
  });

  it("a child reaped by its departed parent is not carried again; one orphaned first is", () => {
    const members = [
      { own: 10, orphaned: false },
      { own: 1, orphaned: false },
      { own: 50, orphaned: false },
    ];
    const settle = (rise: number) =>
      settleDepartures({
        carry: emptyCarry(),
        departures: chainOf(members, false),
        liveRise: (pid) => (pid === 100 ? rise : undefined),
        rootPid: 0,
        outsideRise: () => undefined,
      }).carry.ticks;
    // The live reaper got all three (61 and more): nothing to carry.
    expect(settle(80)).toBe(0);
    // It got 11 only: the busy grandchild was orphaned and reaped by init.
    expect(settle(11)).toBe(50);
  });

  it("a zombie child of a live reaper is its reaper's, whoever else left the tree", () => {
    // 1 exited and waits as a zombie of the live root 100; 2 (waiting) and its busy child 3 leave in
    // the same tick, 3 after 2, so init reaps 3: the root's rise holds 1's tick and 2's nothing.
    const member = (pid: number, ppid: number, ownTicks: number, zombie: boolean) =>
      departure(
        { pid, ppid, alive: true, ownTicks, childTicks: 0, rssBytes: 0, readBytes: 0, writeBytes: 0 },
        { zombie },
      );
    const { carry } = settleDepartures({
      carry: emptyCarry(),
      departures: [member(1, 100, 1, true), member(2, 100, 0, false), member(3, 2, 2, false)],
      liveRise: (pid) => (pid === 100 ? 1 : undefined),
      rootPid: 100,
      outsideRise: () => undefined,
    });
    expect(carry.ticks).toBe(2);
  });

  it("takes out of a chain the members that make its readings fit its reaper's rise best", () => {
    // Two zombies of the root 1000: it reaped 1001 (1 tick) and exited; init reaped 1002 (2 ticks).
    // `run`'s wait4 of the root says 1: only leaving 1002 out explains it.
    const member = (pid: number, ownTicks: number) =>
      departure(
        { pid, ppid: 1000, alive: true, ownTicks, childTicks: 0, rssBytes: 0, readBytes: 0, writeBytes: 0 },
        { zombie: true },
      );
    const root = departure({
      pid: 1000,
      ppid: 900,
      alive: true,
      ownTicks: 0,
      childTicks: 0,
      rssBytes: 0,
      readBytes: 0,
      writeBytes: 0,
    });
    const { carry, rootChain } = settleDepartures({
      carry: emptyCarry(),
      departures: [root, member(1001, 1), member(1002, 2)],
      liveRise: () => undefined,
      rootPid: 1000,
      outsideRise: (pid) => (pid === 900 ? { ticks: 1, slackTicks: null } : undefined),
    });
    expect(rootChain).toEqual({ ticks: 1, pids: [1000, 1001] });
    expect(carry.ticks).toBe(3);
  });

  it("one unreadable io makes the tree's bytes unknown, not smaller", () => {
    const totals = treeTotals(
      [
        {
          pid: 1,
          ppid: 0,
          alive: true,
          ownTicks: 1,
          childTicks: 0,
          rssBytes: 1,
          readBytes: 5,
          writeBytes: 5,
        },
        {
          pid: 2,
          ppid: 1,
          alive: true,
          ownTicks: 1,
          childTicks: 0,
          rssBytes: 1,
          readBytes: null,
          writeBytes: 2,
        },
      ] satisfies ProcessCounters[],
      emptyCarry(),
    );
    expect(totals.readBytes).toBeNull();
    expect(totals.writeBytes).toBe(7);
  });
});

describe("shareLastMoments", () => {
  const member = (
    pid: number,
    ownTicks: number,
    exitOwnTicks: number | null,
    recentOwnTicks = 0,
    running = recentOwnTicks > 0,
  ): Departure => ({
    pid,
    ppid: pid - 1,
    alive: true,
    ownTicks,
    childTicks: 0,
    rssBytes: 0,
    readBytes: 0,
    writeBytes: 0,
    exitPpid: null,
    exitOwnTicks,
    recentOwnTicks,
    zombie: false,
    running,
    reapedSinceTick: 0,
  });
  it("gives the last moments to who the records say used them", () => {
    const shares = shareLastMoments([member(1, 5, 6), member(2, 0, 0), member(3, 270, 300)], 306, undefined);
    expect(shares.get(1)).toBeCloseTo(6);
    expect(shares.has(2)).toBe(false);
    expect(shares.get(3)).toBeCloseTo(300);
  });
  it("gives them to the root without records or pace", () => {
    const root = member(1, 5, null);
    expect(shareLastMoments([root, member(2, 270, null)], 305, root)).toEqual(new Map([[1, 35]]));
  });
  it("counts what a reading already holds of a reaped child as that child's, not as rows", () => {
    // The root's last poll read it after it reaped `time`, whose final total holds the burner's 296:
    // the burner's row (265 at its last reading) still lacks the 31 ticks it used since.
    const root = { ...member(1, 4, null), childTicks: 296, reapedSinceTick: 296 };
    const shares = shareLastMoments([root, member(2, 0, null), member(3, 265, null, 32)], 4 + 296, root);
    expect(shares).toEqual(new Map([[3, 296]]));
  });
  it("gives nothing by pace to a member that was waiting at its last reading", () => {
    // A parent that forked busily (30 ticks a tick) and then waited, its record short of its reading,
    // and its last child, still running: the child used the rest.
    const shares = shareLastMoments(
      [member(1, 40, 35, 30, false), member(2, 100, 90, 20)],
      40 + 100 + 10,
      undefined,
    );
    expect(shares.has(1)).toBe(false);
    expect(shares.get(2)).toBeCloseTo(110);
  });
  it("gives them by pace where a record falls short of the reading (CPU contention)", () => {
    // A burner at 32 ticks a tick whose record (215) is below its last reading (284); its waiting
    // parent's record holds 2 ticks it used reaping.
    const shares = shareLastMoments(
      [member(1, 3, 5, 0), member(2, 0, 0, 0), member(3, 284, 215, 32)],
      3 + 284 + 17,
      undefined,
    );
    expect(shares.get(1)).toBeCloseTo(3 + 1);
    expect(shares.get(3)).toBeCloseTo(284 + 16);
  });
});

describe("rootFinalTicks", () => {
  const base = { chainLast: 300, chainSize: 1, slackTicks: slackTicks(1000, 2) };
  it("takes the parent's rise when the root's chain alone explains it", () => {
    expect(rootFinalTicks({ ...base, rise: 370 })).toBe(370);
    expect(rootFinalTicks({ ...base, rise: 300 })).toBe(300);
  });
  it("refuses a rise below the chain's last readings or beyond every CPU since", () => {
    expect(rootFinalTicks({ ...base, rise: 299 })).toBeNull();
    expect(rootFinalTicks({ ...base, rise: 300 + 200 + 2 })).toBe(502);
    expect(rootFinalTicks({ ...base, rise: 300 + 200 + 3 })).toBeNull();
  });
  it("takes run's own wait4 whenever the readings do not exceed it", () => {
    expect(rootFinalTicks({ ...base, rise: 10_000, slackTicks: null })).toBe(10_000);
    expect(rootFinalTicks({ ...base, rise: 299, slackTicks: null })).toBeNull();
  });
  it("never settles below the last readings nor above the bound (property)", () => {
    fc.assert(
      fc.property(
        fc.nat(1e6),
        fc.nat(1e6),
        fc.integer({ min: 1, max: 50 }),
        fc.nat(10_000),
        fc.integer({ min: 1, max: 256 }),
        (rise, chainLast, chainSize, elapsedMs, cpus) => {
          const slack = slackTicks(elapsedMs, cpus);
          const final = rootFinalTicks({ rise, chainLast, chainSize, slackTicks: slack });
          if (final === null) return;
          expect(final).toBe(rise);
          expect(final).toBeGreaterThanOrEqual(chainLast);
          expect(final).toBeLessThanOrEqual(chainLast + slack + 2 * chainSize);
        },
      ),
    );
  });
});

describe("sampleBetween", () => {
  const readingArb = fc.record({
    atMs: fc.integer({ min: 0, max: 1e9 }),
    cpuSeconds: fc.double({ min: 0, max: 1e6, noNaN: true }),
    readBytes: fc.option(fc.nat(), { nil: null }),
    writeBytes: fc.option(fc.nat(), { nil: null }),
    net: fc.constant(null),
    counters: fc.constant(null),
  }) satisfies fc.Arbitrary<TreeReading>;

  it("never reports negative CPU or bytes, and the cumulative series only rises", () => {
    fc.assert(
      fc.property(readingArb, readingArb, fc.double({ min: 0, max: 1e6, noNaN: true }), (a, b, reported) => {
        const [previous, current] = a.atMs <= b.atMs ? [a, b] : [b, a];
        const result = sampleBetween(previous, current, { ...context(), reportedCpuSeconds: reported });
        if (current.atMs - previous.atMs < 10) {
          expect(result).toBeNull();
          return;
        }
        expect(result).not.toBeNull();
        const sample = result!.sample;
        expect(sample.cpuCores).toBeGreaterThanOrEqual(0);
        expect(result!.reportedCpuSeconds).toBeGreaterThanOrEqual(reported);
        expect(sample.cpuSecondsTotal).toBe(result!.reportedCpuSeconds);
        for (const bytes of [sample.diskReadBytes, sample.diskWriteBytes])
          expect(bytes === null || bytes! >= 0).toBe(true);
        // The integral of cores over the interval is the CPU added.
        expect(sample.cpuCores! * sample.intervalSeconds).toBeCloseTo(
          result!.reportedCpuSeconds - reported,
          6,
        );
      }),
    );
  });

  it("a task first seen young is counted from zero at its start", () => {
    const start = zeroReading(1_000);
    const now: TreeReading = { ...start, atMs: 3_000, cpuSeconds: 150 / CLOCK_TICKS_PER_SECOND };
    const result = sampleBetween(start, now, context());
    expect(result?.sample.cpuCores).toBeCloseTo(0.75);
    expect(result?.sample.cpuSecondsTotal).toBeCloseTo(1.5);
  });

  it("prefers the task's own cgroup counter for cumulative CPU", () => {
    const totals = treeTotals([], { ticks: 300, readBytes: 0, writeBytes: 0 });
    expect(readingCpuSeconds(totals, null)).toBe(3);
  });
});

describe("unseenStarts", () => {
  it("charges the pids nobody explains to the one churning tree, never a negative count", () => {
    fc.assert(
      fc.property(
        fc.nat(1000),
        fc.nat(1000),
        fc.nat(1000),
        fc.nat(1000),
        fc.nat(3),
        (a, b, known, others, trees) => {
          const unseen = unseenStarts({
            previousLastPid: a,
            lastPid: b,
            knownAllocations: known,
            otherAllocations: others,
            churningTrees: trees,
          });
          expect(unseen).toBeGreaterThanOrEqual(0);
          if (trees !== 1 || b < a) expect(unseen).toBe(0);
          else expect(unseen).toBe(Math.max(b - a - known - others, 0));
        },
      ),
    );
  });
});

describe("wallClockSplit", () => {
  const threadArb = fc.record({
    run: fc.double({ min: 0, max: 2, noNaN: true }),
    delay: fc.double({ min: 0, max: 2, noNaN: true }),
    blocked: fc.constantFrom(...blockedKinds),
  });
  const split = (
    interval: number,
    threads: Array<{ run: number; delay: number; blocked: (typeof blockedKinds)[number] }>,
  ) => {
    const products = emptyWallProducts();
    const thread: ThreadSeconds = emptyThreadSeconds();
    for (const t of threads) {
      const one = splitThreadTick(interval, t.run, t.delay, t.blocked);
      addThreadToWall(products, one, interval);
      for (const key of Object.keys(thread) as Array<keyof ThreadSeconds>) thread[key] += one[key];
    }
    return { wall: wallClockSplit(products, interval), thread };
  };

  it("adds up to the tick, never negative, on-CPU between the longest thread and the sum", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 2, noNaN: true }),
        fc.array(threadArb, { maxLength: 20 }),
        (interval, threads) => {
          const { wall, thread } = split(interval, threads);
          const total = Object.values(wall).reduce((a, b) => a + b, 0);
          expect(total).toBeCloseTo(interval, 9);
          for (const value of Object.values(wall)) expect(value).toBeGreaterThanOrEqual(-1e-12);
          const longest = Math.max(0, ...threads.map((t) => Math.min(t.run, interval)));
          expect(wall.onCpu).toBeGreaterThanOrEqual(longest - 1e-9);
          expect(wall.onCpu).toBeLessThanOrEqual(Math.min(thread.onCpu, interval) + 1e-9);
        },
      ),
    );
  });

  it("one busy thread keeps the tick on a CPU whatever sleeps beside it", () => {
    const { wall, thread } = split(1, [
      { run: 1, delay: 0, blocked: "idle" },
      ...Array.from({ length: 8 }, () => ({ run: 0, delay: 0, blocked: "idle" as const })),
    ]);
    expect(wall.onCpu).toBeCloseTo(1);
    expect(thread.idle / 9).toBeCloseTo(8 / 9);
  });

  it("a tree whose threads all sleep is idle; one blocked on a socket makes it network wait", () => {
    expect(split(1, [{ run: 0, delay: 0, blocked: "idle" }]).wall.idle).toBe(1);
    const { wall } = split(1, [
      { run: 0, delay: 0, blocked: "net" },
      { run: 0, delay: 0, blocked: "idle" },
    ]);
    expect(wall.net).toBe(1);
    expect(wall.idle).toBe(0);
  });

  it("a parent waiting on a sleeping child is idle; on a child alone (unseen work), child wait", () => {
    const waitingOnSleeper = split(1, [
      { run: 0, delay: 0, blocked: "child" },
      { run: 0, delay: 0, blocked: "idle" },
    ]).wall;
    expect(waitingOnSleeper.idle).toBe(1);
    expect(waitingOnSleeper.child).toBe(0);
    expect(split(1, [{ run: 0, delay: 0, blocked: "child" }]).wall.child).toBe(1);
    const waitingOnBurner = split(1, [
      { run: 0, delay: 0, blocked: "child" },
      { run: 1, delay: 0, blocked: "idle" },
    ]).wall;
    expect(waitingOnBurner.onCpu).toBe(1);
  });
});

describe("tickWallSplit", () => {
  it("counts CPU no live thread showed (exited children's) as one more thread on a CPU", () => {
    // A parent asleep for the whole second whose children used 0.4 s and left: 40 % on a CPU.
    const wall = emptyWallProducts();
    const asleep = { ...emptyThreadSeconds(), idle: 1 };
    addThreadToWall(wall, asleep, 1);
    const reading = {
      totals: treeTotals([], emptyCarry()),
      threads: 1,
      threadSeconds: asleep,
      wall,
      current: { ...zeroReading(2_000), cpuSeconds: 0.4 },
    };
    const split = tickWallSplit(reading, zeroReading(1_000), 1)!;
    expect(split.onCpu).toBeCloseTo(0.4, 9);
    expect(split.idle).toBeCloseTo(0.6, 9);
    // The reading's own products are left as they were.
    expect(wall).toEqual({ ...emptyWallProducts(), notIdle: 0 });
    expect(tickWallSplit({ ...reading, threads: 0 }, zeroReading(1_000), 1)).toBeNull();
  });
});
