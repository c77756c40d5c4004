/**
 * The report's address (reportUrlOf) and how each output links it: a hostile file name stays one path
 * segment under the base, and the Markdown parsed the way GitHub does (micromark with GFM, through remark)
 * holds exactly one link, to exactly that address, whatever the file or task names.
 */
import type { Link, Root, RootContent } from "mdast";
import { toString as mdText } from "mdast-util-to-string";
import remarkGfm from "remark-gfm";
import remarkParse from "remark-parse";
import { unified } from "unified";
import { describe, expect, it } from "vitest";
import { renderMarkdownReport } from "./render.js";
import { reportUrlOf } from "./report-url.js";
import { slackMessage } from "./slack.js";
import { buildTask, hostileNames, sampleAnalysis } from "../test-support/report-fixtures.js";

const base = "https://reports.example.test/rightsize/";

const hostileFileNames = [
  "x](http://evil.example/) ![i](http://evil.example/i.png).html",
  `x"><img src=x onerror=alert(1)>.html`,
  "a)b(c) <https://evil.example/>.html",
  "line\nbreak\r\n## heading|cell|.html",
  "@org/team #12 www.evil.example.html",
  "../../etc/passwd",
  "`code` *em* _em_ \\ %41 &amp;.html",
];

function nodesOf(markdown: string): Array<Root | RootContent> {
  const all: Array<Root | RootContent> = [];
  const walk = (node: Root | RootContent) => {
    all.push(node);
    if ("children" in node) for (const child of node.children) walk(child);
  };
  walk(unified().use(remarkParse).use(remarkGfm).parse(markdown));
  return all;
}

describe("reportUrlOf", () => {
  it("puts the file under the base URL, with or without its trailing slash", () => {
    expect(reportUrlOf("https://r.example/x", "rightsize-2026-11-21.html")).toBe(
      "https://r.example/x/rightsize-2026-11-21.html",
    );
    expect(reportUrlOf("https://r.example/x/", "rightsize-2026-11-21.html")).toBe(
      "https://r.example/x/rightsize-2026-11-21.html",
    );
  });

  it("is null without a base URL: no link rather than a broken one", () => {
    expect(reportUrlOf(null, "x.html")).toBeNull();
    expect(reportUrlOf(undefined, "x.html")).toBeNull();
    expect(reportUrlOf("", "x.html")).toBeNull();
  });

  it.each(hostileFileNames)("keeps %j one percent-encoded segment under the base", (fileName) => {
    const url = reportUrlOf(base, fileName)!;
    expect(url.startsWith(base)).toBe(true);
    const segment = url.slice(base.length);
    expect(segment).not.toMatch(/[/?#\s<>|"`\\]/);
    expect(decodeURIComponent(segment)).toBe(fileName);
  });

  it.each(["", ".", ".."])("refuses %j, which would name the folder or its parent", (fileName) => {
    expect(() => reportUrlOf(base, fileName)).toThrow(/is not a report file name/);
  });
});

describe("the Markdown report's link", () => {
  it.each(hostileFileNames)(
    "with a file name %j: one link, to exactly the report's address, beside hostile task names",
    (fileName) => {
      const reportUrl = reportUrlOf(base, fileName)!;
      const document = sampleAnalysis();
      document.tasks.push(
        ...hostileNames.map((task, index) =>
          buildTask({
            pipeline: "p",
            task,
            usedCores: 1,
            peakBytes: 1e9,
            recommendedCores: 1,
            recommendedBytes: 1e9,
            seed: index,
          }),
        ),
      );
      const nodes = nodesOf(renderMarkdownReport(document, { reportUrl, maxTasks: 100 }));
      const links = nodes.filter((node): node is Link => node.type === "link");
      expect(links).toHaveLength(1);
      expect(mdText(links[0]!)).toBe("Open the full report");
      // The destination is the address with `(` and `)` percent-encoded too (markdownLink): the same file.
      expect(decodeURIComponent(links[0]!.url)).toBe(decodeURIComponent(reportUrl));
      expect(links[0]!.url.startsWith(base)).toBe(true);
      const kinds = new Set<string>(nodes.map((node) => node.type));
      for (const kind of ["image", "html", "linkReference", "imageReference", "definition"]) {
        expect(kinds.has(kind), kind).toBe(false);
      }
    },
  );

  it("is absent without an address, and never links anything but http(s)", () => {
    for (const reportUrl of [undefined, null, "javascript:alert(1)", "data:text/html,<b>x</b>"]) {
      const markdown = renderMarkdownReport(sampleAnalysis(), { reportUrl });
      expect(markdown).not.toContain("Open the full report");
      expect(nodesOf(markdown).some((node) => node.type === "link")).toBe(false);
    }
  });
});

describe("the Slack message's link", () => {
  it.each(hostileFileNames)("with a file name %j stays one <url|text> link", (fileName) => {
    const reportUrl = reportUrlOf(base, fileName)!;
    const context = slackMessage(sampleAnalysis(), { reportUrl }).blocks.at(-1) as {
      elements: Array<{ text: string }>;
    };
    const text = context.elements[0]!.text;
    expect(text).toMatch(/^<[^<>|]+\|Open the full report>$/);
    expect(text.slice(1, text.indexOf("|"))).toBe(reportUrl.replace(/&/g, "&amp;"));
  });
});
