import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readFileInRoot } from "./file-in-root.js";

describe("reading a file a process names, inside its root only", () => {
  const outside = mkdtempSync(join(tmpdir(), "rightsize-outside-"));
  writeFileSync(join(outside, "secret"), "host secret");
  const root = mkdtempSync(join(tmpdir(), "rightsize-root-"));
  mkdirSync(join(root, "work"));
  writeFileSync(join(root, "work", "w.json"), '{"ti":{}}');
  symlinkSync("/work/w.json", join(root, "work", "absolute-link"));
  symlinkSync("../work/w.json", join(root, "work", "relative-link"));
  symlinkSync(join(outside, "secret"), join(root, "work", "escape"));
  symlinkSync("../../../../../../../../" + join(outside, "secret"), join(root, "work", "climb"));
  symlinkSync(outside, join(root, "dir-escape"));
  symlinkSync("loop", join(root, "loop"));
  writeFileSync(join(root, "big"), "x".repeat(100));

  it("reads a plain file, relative paths from the process's working directory", () => {
    expect(readFileInRoot(root, "/work/w.json", 1000)).toEqual({ text: '{"ti":{}}' });
    expect(readFileInRoot(root, "w.json", 1000, "/work")).toEqual({ text: '{"ti":{}}' });
  });

  it("resolves links within the root (an absolute target is the process's root, not the host's)", () => {
    expect(readFileInRoot(root, "/work/relative-link", 1000)).toEqual({ text: '{"ti":{}}' });
    expect(readFileInRoot(root, "/work/absolute-link", 1000)).toEqual({ text: '{"ti":{}}' });
  });

  it("never leaves the root, by link, by .. or through a linked folder", () => {
    expect(readFileInRoot(root, "/work/escape", 1000)).toMatchObject({ refused: expect.any(String) });
    expect(readFileInRoot(root, "/work/climb", 1000)).toMatchObject({ refused: expect.any(String) });
    expect(readFileInRoot(root, "/../../../../../../" + join(outside, "secret"), 1000)).toMatchObject({
      refused: expect.any(String),
    });
    expect(readFileInRoot(root, "/dir-escape/secret", 1000)).toMatchObject({ refused: expect.any(String) });
    expect(readFileInRoot(root, "/loop/x", 1000)).toMatchObject({ refused: expect.any(String) });
  });

  it("refuses what is not a small regular file", () => {
    expect(readFileInRoot(root, "/big", 10)).toEqual({ refused: "larger than 10 bytes" });
    expect(readFileInRoot(root, "/work", 1000)).toEqual({ refused: "not a regular file" });
    expect(readFileInRoot(root, "/missing", 1000)).toMatchObject({ refused: expect.any(String) });
  });
});
