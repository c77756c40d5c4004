import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatLike,
  type Literal,
  parseDeclared,
  parseKubernetesQuantity,
  type QuantityUnit,
  targetValueOf,
} from "./quantities.js";

const friendlyValue = targetValueOf;
const friendlyBytes = (bytes: number) => targetValueOf("k8s-memory", bytes);
const friendlyCores = (cores: number) => targetValueOf("k8s-cpu", cores);

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe("parseKubernetesQuantity", () => {
  it.each([
    ["500m", 0.5],
    ["2", 2],
    ["1.5", 1.5],
    [".5", 0.5],
    ["2Gi", 2 * GiB],
    ["512Mi", 512 * MiB],
    ["1Ki", 1024],
    ["1Ti", 1024 ** 4],
    ["1k", 1000],
    ["1M", 1e6],
    ["1G", 1e9],
    ["2T", 2e12],
    ["1e3", 1000],
    ["1.5E9", 1.5e9],
    ["0.5Gi", 0.5 * GiB],
    ["+1", 1],
  ])("%s = %d", (text, expected) => {
    expect(parseKubernetesQuantity(text)).toBeCloseTo(expected, 9);
  });

  it.each(["", "Gi", "1GB", "1 Gi", "one", "1e", "0x10", "1.2.3"])("rejects %j", (text) => {
    expect(parseKubernetesQuantity(text)).toBeNaN();
  });
});

describe("parseDeclared", () => {
  it("reads each unit into cores or bytes", () => {
    expect(parseDeclared("MB", { kind: "number", text: "2048" })).toBe(2 * GiB);
    expect(parseDeclared("MiB", { kind: "number", text: "512" })).toBe(512 * MiB);
    expect(parseDeclared("ecs-cpu-units", { kind: "number", text: "1024" })).toBe(1);
    expect(parseDeclared("ecs-cpu-units", { kind: "string", text: "256" })).toBe(0.25);
    expect(parseDeclared("cores", { kind: "number", text: "0.5" })).toBe(0.5);
    expect(parseDeclared("cores", { kind: "number", text: "1_000" })).toBe(1000);
    expect(parseDeclared("k8s-memory", { kind: "number", text: "1073741824" })).toBe(GiB);
    expect(parseDeclared("k8s-memory", { kind: "string", text: "1Gi" })).toBe(GiB);
    expect(parseDeclared("k8s-cpu", { kind: "number", text: "1e3" })).toBe(1000);
    expect(parseDeclared("cores", { kind: "number", text: "0x10" })).toBeNaN();
  });
});

describe("target values (common/sizing-policy.ts, never rounded again)", () => {
  it("Kubernetes-like targets hold the recommendation: 50m and 64 MiB steps", () => {
    expect(friendlyCores(0.01)).toBe(0.1);
    expect(friendlyCores(0.31)).toBeCloseTo(0.35, 9);
    expect(friendlyCores(0.3)).toBeCloseTo(0.3, 9);
    expect(friendlyCores(1.01)).toBe(1.05);
    expect(friendlyCores(4.1)).toBe(4.1);
    expect(friendlyBytes(1)).toBe(128 * MiB);
    expect(friendlyBytes(900 * MiB)).toBe(960 * MiB);
    expect(friendlyBytes(1.1 * GiB)).toBe(1152 * MiB);
    expect(friendlyBytes(8.2 * GiB)).toBe(8448 * MiB);
  });
  it("ECS targets hold a Fargate size", () => {
    expect(friendlyValue("ecs-cpu-units", 0.3)).toBe(0.5);
    expect(friendlyValue("ecs-cpu-units", 1.1)).toBe(2);
    expect(friendlyValue("MiB", 3 * GiB + 1)).toBe(4 * GiB);
  });
});

describe("formatLike keeps the file's style", () => {
  const cases: Array<[QuantityUnit, Literal, number, string]> = [
    ["k8s-memory", { kind: "string", text: "4Gi" }, 2 * GiB, "2Gi"],
    ["k8s-memory", { kind: "string", text: "4Gi" }, 1.25 * GiB, "1280Mi"],
    ["k8s-memory", { kind: "string", text: "1Gi" }, 768 * MiB, "768Mi"],
    ["k8s-memory", { kind: "string", text: "1Gi" }, 256 * MiB, "256Mi"],
    ["k8s-memory", { kind: "string", text: "512M" }, 768 * MiB, "768Mi"],
    // 155,960,999,936 bytes are 155,960.999936 M: not a whole number of M, however close.
    ["k8s-memory", { kind: "string", text: "100M" }, 148_736 * MiB, "148736Mi"],
    ["k8s-cpu", { kind: "string", text: "500m" }, 1.25, "1250m"],
    ["k8s-cpu", { kind: "number", text: "0.5" }, 1.05, "1.05"],
    ["k8s-memory", { kind: "string", text: "4096Mi" }, 3 * GiB, "3072Mi"],
    ["k8s-memory", { kind: "string", text: "1G" }, 2e9, "2G"],
    ["k8s-memory", { kind: "string", text: "2e9" }, 3e9, "3e9"],
    ["k8s-memory", { kind: "number", text: "1073741824" }, 2 * GiB, "2147483648"],
    ["k8s-cpu", { kind: "string", text: "500m" }, 0.25, "250m"],
    ["k8s-cpu", { kind: "string", text: "2" }, 0.5, "0.5"],
    ["k8s-cpu", { kind: "string", text: "2" }, 1, "1"],
    ["k8s-cpu", { kind: "number", text: "0.5" }, 1, "1.0"],
    ["k8s-cpu", { kind: "number", text: "2" }, 3, "3"],
    ["cores", { kind: "number", text: "4" }, 0.3, "0.3"],
    ["MB", { kind: "number", text: "2048" }, 960 * MiB, "960"],
    ["MiB", { kind: "number", text: "16384" }, 3 * GiB, "3072"],
    ["ecs-cpu-units", { kind: "number", text: "4096" }, 1, "1024"],
    ["ecs-cpu-units", { kind: "string", text: "4096" }, 0.5, "512"],
  ];
  it.each(cases)("%s %j ← %d = %s", (unit, original, value, expected) => {
    expect(formatLike(unit, original, value)).toBe(expected);
  });
});

const units: QuantityUnit[] = ["k8s-cpu", "k8s-memory", "cores", "MB", "ecs-cpu-units", "MiB"];
const styles: Record<QuantityUnit, Literal[]> = {
  "k8s-cpu": [
    { kind: "string", text: "500m" },
    { kind: "string", text: "2" },
    { kind: "string", text: "1.5" },
    { kind: "number", text: "2" },
    { kind: "number", text: "0.5" },
  ],
  "k8s-memory": [
    { kind: "string", text: "2Gi" },
    { kind: "string", text: "512Mi" },
    { kind: "string", text: "1G" },
    { kind: "string", text: "100M" },
    { kind: "string", text: "64Ki" },
    { kind: "string", text: "2e9" },
    { kind: "number", text: "1073741824" },
  ],
  cores: [
    { kind: "number", text: "2" },
    { kind: "number", text: "0.5" },
  ],
  MB: [
    { kind: "number", text: "2048" },
    { kind: "number", text: "512.0" },
  ],
  "ecs-cpu-units": [
    { kind: "number", text: "1024" },
    { kind: "string", text: "2048" },
  ],
  MiB: [
    { kind: "number", text: "4096" },
    { kind: "string", text: "8192" },
  ],
};

describe("round trips (properties)", () => {
  const cpuValue = fc.double({ min: 0.001, max: 64, noNaN: true });
  const memoryValue = fc.double({ min: 1024, max: 512 * GiB, noNaN: true });

  it("parse(formatLike(friendly(v))) never falls below v nor more than one step above", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...units),
        fc.nat(10),
        cpuValue,
        memoryValue,
        (unit, styleIndex, cpu, memory) => {
          const style = styles[unit][styleIndex % styles[unit].length]!;
          const isCpu = unit === "k8s-cpu" || unit === "cores" || unit === "ecs-cpu-units";
          // Fargate's largest task is 16 vCPU and 120 GiB: ECS values above it are capped, by design.
          const value =
            unit === "ecs-cpu-units"
              ? Math.min(cpu, 16)
              : unit === "MiB"
                ? Math.min(memory, 120 * GiB)
                : isCpu
                  ? cpu
                  : memory;
          const friendly = friendlyValue(unit, value);
          const written = formatLike(unit, style, friendly);
          const back = parseDeclared(unit, { kind: style.kind, text: written });
          expect(back).toBeGreaterThanOrEqual(value * (1 - 1e-9));
          // The written value is the target's value exactly, except exponent styles (`2e9`), which
          // round up at their third decimal.
          const slack = "text" in style && /e/i.test(style.text) ? 1e-3 * 1e9 : 1e-6;
          expect(back).toBeLessThanOrEqual(friendly + slack);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("writing a value the literal already holds gives the literal back (canonical forms)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4096 }),
        fc.constantFrom("Mi", "Gi", "Ki", "M", "G", "m"),
        (n, suffix) => {
          const text = `${n}${suffix}`;
          const unit: QuantityUnit = suffix === "m" ? "k8s-cpu" : "k8s-memory";
          const value = parseDeclared(unit, { kind: "string", text });
          expect(formatLike(unit, { kind: "string", text: `1${suffix}` }, value)).toBe(text);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("integer styles stay integers and string styles keep their suffix", () => {
    fc.assert(
      fc.property(memoryValue, (bytes) => {
        expect(formatLike("MB", { kind: "number", text: "2048" }, friendlyBytes(bytes))).toMatch(/^\d+$/);
        expect(formatLike("MiB", { kind: "number", text: "2048" }, friendlyValue("MiB", bytes))).toMatch(
          /^\d+$/,
        );
        expect(formatLike("k8s-memory", { kind: "string", text: "2Gi" }, friendlyBytes(bytes))).toMatch(
          /^\d+(Gi|Mi)$/,
        );
        expect(formatLike("k8s-memory", { kind: "string", text: "512Mi" }, friendlyBytes(bytes))).toMatch(
          /^\d+Mi$/,
        );
      }),
    );
    fc.assert(
      fc.property(cpuValue, (cores) => {
        expect(formatLike("k8s-cpu", { kind: "string", text: "500m" }, friendlyCores(cores))).toMatch(
          /^\d+m$/,
        );
        expect(formatLike("k8s-cpu", { kind: "number", text: "0.5" }, friendlyCores(cores))).toMatch(
          /^\d+\.\d+$/,
        );
      }),
    );
  });
});
