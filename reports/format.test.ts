import { describe, expect, it } from "vitest";
import { formatChange, formatCores, formatInstant, formatPercent, formatUsd } from "./format.js";

describe("report number formats", () => {
  it("formats cores", () => {
    expect(formatCores(1)).toBe("1 core");
    expect(formatCores(0.254)).toBe("0.25 cores");
    expect(formatCores(12.4)).toBe("12 cores");
    expect(formatCores(null)).toBe("–");
  });

  it("formats shares as percentages, keeping small ones visible", () => {
    expect(formatPercent(0.425)).toBe("43 %");
    expect(formatPercent(0.004)).toBe("0.4 %");
    expect(formatPercent(0)).toBe("0 %");
    expect(formatPercent(Number.NaN)).toBe("–");
  });

  it("formats money with cents only where they matter", () => {
    expect(formatUsd(1234.56)).toBe("$1,235");
    expect(formatUsd(3.1)).toBe("$3.10");
    expect(formatUsd(-12.4)).toBe("-$12");
    // What rounds to $0.00 but is not zero keeps two significant digits; zero stays $0.00.
    expect(formatUsd(0.000134)).toBe("$0.00013");
    expect(formatUsd(-0.0042)).toBe("-$0.0042");
    expect(formatUsd(0.0051)).toBe("$0.01");
    expect(formatUsd(0)).toBe("$0.00");
    expect(formatUsd(undefined)).toBe("–");
  });

  it("signs changes", () => {
    expect(formatChange(0.42)).toBe("+42 %");
    expect(formatChange(-0.3)).toBe("-30 %");
  });

  it("shows instants in UTC to the minute, and odd text as it is", () => {
    expect(formatInstant("2026-11-21T02:00:00.000Z")).toBe("2026-11-21 02:00 UTC");
    expect(formatInstant("2026-11-21T03:30:00+01:00")).toBe("2026-11-21 02:30 UTC");
    expect(formatInstant("last night")).toBe("last night");
  });
});
