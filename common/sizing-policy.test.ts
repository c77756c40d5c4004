import { describe, expect, it } from "vitest";
import { fargateSize, recommendedBytes, recommendedCores, targetSize } from "./sizing-policy.js";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe("the sizing policy", () => {
  it("rounds CPU up to 50m steps and memory up to 64 MiB steps, with floors", () => {
    expect(recommendedCores(1.02)).toBe(1.05);
    expect(recommendedCores(0.01)).toBe(0.1);
    expect(recommendedCores(0.35000000000000003)).toBe(0.35);
    expect(recommendedBytes(100 * MiB)).toBe(128 * MiB);
    expect(recommendedBytes(700 * MiB)).toBe(704 * MiB);
    expect(recommendedBytes(2 * GiB)).toBe(2 * GiB);
  });

  it("Kubernetes targets hold the recommendation itself (what the report shows)", () => {
    expect(targetSize("kubernetes", 1.05, 128 * MiB)).toEqual({ cores: 1.05, bytes: 128 * MiB });
  });

  it("Fargate targets hold the smallest valid CPU/memory combination", () => {
    expect(fargateSize(0.2, 300 * MiB)).toEqual({ cores: 0.25, bytes: 512 * MiB });
    // 0.25 vCPU allows at most 2 GiB: 3 GiB needs 0.5 vCPU.
    expect(fargateSize(0.2, 3 * GiB)).toEqual({ cores: 0.5, bytes: 3 * GiB });
    // 1 vCPU starts at 2 GiB.
    expect(fargateSize(1, 512 * MiB)).toEqual({ cores: 1, bytes: 2 * GiB });
    expect(fargateSize(5, 17 * GiB)).toEqual({ cores: 8, bytes: 20 * GiB });
    expect(fargateSize(64, 1024 * GiB)).toEqual({ cores: 16, bytes: 120 * GiB });
  });

  it("Cloud Run targets keep fractions below one CPU and whole 1, 2, 4, 6, 8 above", () => {
    expect(targetSize("cloud-run", 0.3, GiB).cores).toBe(0.3);
    expect(targetSize("cloud-run", 1.05, GiB).cores).toBe(2);
    expect(targetSize("cloud-run", 4.5, GiB).cores).toBe(6);
  });
});
