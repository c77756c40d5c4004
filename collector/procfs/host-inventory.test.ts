import { describe, expect, it } from "vitest";
import { parseCpuinfo, parseOsRelease } from "./host-inventory.js";

describe("host inventory parsing", () => {
  it("reads os-release fields, quoted or not, and ignores comments", () => {
    const fields = parseOsRelease(
      '# comment\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID=12\nID=debian\n',
    );
    expect(fields.NAME).toBe("Debian GNU/Linux");
    expect(fields.VERSION_ID).toBe("12");
    expect(fields.PRETTY_NAME).toBe("Debian GNU/Linux 12 (bookworm)");
    expect(fields["# comment"]).toBeUndefined();
  });

  it("counts physical cores as distinct (physical id, core id) pairs: hyperthreads share one", () => {
    const processor = (index: number, physical: number, core: number) =>
      `processor\t: ${index}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)\nphysical id\t: ${physical}\ncore id\t\t: ${core}\n`;
    const text = [
      processor(0, 0, 0),
      processor(1, 0, 1),
      processor(2, 0, 0),
      processor(3, 0, 1),
      processor(4, 1, 0),
    ].join("\n");
    expect(parseCpuinfo(text)).toEqual({
      manufacturer: "GenuineIntel",
      brand: "Intel(R) Xeon(R)",
      physicalCores: 3,
    });
  });

  it("says null where cpuinfo has no core ids (some ARM and virtual machines)", () => {
    expect(parseCpuinfo("processor\t: 0\nBogoMIPS\t: 50.00\n")).toEqual({
      manufacturer: null,
      brand: null,
      physicalCores: null,
    });
  });
});
