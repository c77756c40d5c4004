import { describe, expect, it } from "vitest";
import { reportBaseName } from "./publish.js";

describe("reportBaseName", () => {
  it("names the files after the window end's UTC day, else the generation time's", () => {
    expect(
      reportBaseName({
        generatedAt: "2026-11-22T01:00:00Z",
        windowEnd: "2026-11-21T23:30:00-01:00",
        windowDays: 14,
        tasks: [],
      }),
    ).toBe("rightsize-2026-11-22");
    expect(reportBaseName({ generatedAt: "2026-11-20T02:00:00Z", windowDays: 14, tasks: [] })).toBe(
      "rightsize-2026-11-20",
    );
  });

  it("keeps an unparsable stamp usable as a file name", () => {
    expect(reportBaseName({ generatedAt: "last night/../x", windowDays: 14, tasks: [] })).toBe(
      "rightsize-last_night____x",
    );
  });
});
