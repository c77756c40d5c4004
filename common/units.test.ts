import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, parseBytes, parseDurationMs } from "./units.js";

describe("units", () => {
  it("parses durations", () => {
    expect(parseDurationMs("500ms")).toBe(500);
    expect(parseDurationMs("1s")).toBe(1000);
    expect(parseDurationMs("1.5m")).toBe(90_000);
    expect(parseDurationMs("14d")).toBe(14 * 86_400_000);
    expect(parseDurationMs("2")).toBe(2000);
    expect(parseDurationMs("soon")).toBeNaN();
    expect(parseDurationMs("1y")).toBeNaN();
  });

  it("parses byte sizes in SI and binary units", () => {
    expect(parseBytes("1GiB")).toBe(1024 ** 3);
    expect(parseBytes("512Mi")).toBe(512 * 1024 ** 2);
    expect(parseBytes("64 MB")).toBe(64e6);
    expect(parseBytes("1000")).toBe(1000);
    expect(parseBytes("1.5 KiB")).toBe(1536);
    expect(parseBytes("12 parsecs")).toBeNaN();
  });

  it("formats for people", () => {
    expect(formatBytes(1536 * 1024 ** 2)).toBe("1.5 GiB");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(-300 * 1024 ** 2)).toBe("-300 MiB");
    expect(formatBytes(null)).toBe("–");
    expect(formatDuration(0.25)).toBe("250 ms");
    expect(formatDuration(42)).toBe("42 s");
    expect(formatDuration(200)).toBe("3m 20s");
    expect(formatDuration(7500)).toBe("2h 05m");
  });

  it("formatBytes and parseBytes agree within the shown precision", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 45 }), (bytes) => {
        const [value, unit] = formatBytes(bytes).split(" ");
        const back = parseBytes(`${value}${unit === "B" ? "" : unit}`);
        expect(Math.abs(back - bytes) / bytes).toBeLessThan(0.05);
      }),
    );
  });
});
