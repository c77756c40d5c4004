/**
 * Hostile names in every output rightsize posts: the Markdown report, the CI job summary, the pull-request
 * body, `check`'s text table and its GitHub workflow commands. Markdown is checked on the tree GitHub's
 * parser (micromark with GFM, through remark) makes of it, not on the string.
 */
import type { Root, RootContent, Table } from "mdast";
import { toString as mdText } from "mdast-util-to-string";
import remarkGfm from "remark-gfm";
import remarkParse from "remark-parse";
import { unified } from "unified";
import { describe, expect, it } from "vitest";
import type { AnalysisDocument } from "../common/analysis-document.js";
import { escapeMarkdown, escapeTextLine, escapeWorkflowData, escapeWorkflowProperty } from "./escape.js";
import { renderMarkdownReport } from "./render.js";
import {
  type CheckItem,
  type CheckReport,
  renderCheckText,
  renderGithubAnnotations,
  renderJobSummary,
} from "../sources/check.js";
import type { PatchPlan } from "../sources/patch-plan.js";
import { pullRequestBody } from "../sources/pull-request.js";
import { buildTask, hostileNames } from "../test-support/report-fixtures.js";

function parse(markdown: string): Root {
  return unified().use(remarkParse).use(remarkGfm).parse(markdown);
}

function nodes(root: Root): Array<Root | RootContent> {
  const all: Array<Root | RootContent> = [];
  const walk = (node: Root | RootContent) => {
    all.push(node);
    if ("children" in node) for (const child of node.children) walk(child);
  };
  walk(root);
  return all;
}

/** What GitHub would turn into a link, an image, markup, a mention or a reference. */
function assertInert(markdown: string): Root {
  const root = parse(markdown);
  const kinds = new Set<string>(nodes(root).map((node) => node.type));
  for (const kind of [
    "link",
    "image",
    "html",
    "linkReference",
    "imageReference",
    "definition",
    "inlineCode",
  ]) {
    expect(kinds.has(kind), `${kind} in ${markdown}`).toBe(false);
  }
  // GitHub matches @mentions and #references on the rendered text (an @ or # right before a name or number).
  const text = nodes(root)
    .filter((node) => node.type === "text")
    .map((node) => (node as { value: string }).value)
    .join("\n");
  expect(text).not.toMatch(/(^|[^\w`])@[A-Za-z0-9]/);
  expect(text).not.toMatch(/#\d/);
  return root;
}

function tables(root: Root): string[][][] {
  return root.children
    .filter((node): node is Table => node.type === "table")
    .map((table) => table.children.map((row) => row.children.map((cell) => mdText(cell))));
}

/** A cell's text as a reader sees it: the joiners are invisible, a line break became a space. */
const visible = (text: string) =>
  text
    .replace(/\u200d/g, "")
    .replace(/\s+/g, " ")
    .trim();
const asCell = (name: string) => visible(name.replace(/\u001b/g, ""));

describe("Markdown escaping", () => {
  it.each(hostileNames)("%j stays one text cell", (name) => {
    const markdown = `| a | name | b |\n| --- | --- | --- |\n| 1 | ${escapeMarkdown(name)} | 2 |\n`;
    const [table] = tables(assertInert(markdown));
    expect(table?.[1]).toHaveLength(3);
    expect(visible(table![1]![1]!)).toBe(asCell(name));
  });

  it("the Markdown report keeps every hostile pipeline and task name as text in its own cell", () => {
    const document: AnalysisDocument = {
      generatedAt: "2026-11-21T02:00:00Z",
      windowDays: 14,
      tasks: hostileNames.map((name, index) =>
        buildTask({
          pipeline: name,
          task: `${name} ${index}`,
          usedCores: 1,
          peakBytes: 1e9,
          recommendedCores: 1,
          recommendedBytes: 1e9,
        }),
      ),
    };
    const root = assertInert(renderMarkdownReport(document, { maxTasks: hostileNames.length }));
    const ranked = tables(root)[1]!;
    expect(ranked).toHaveLength(hostileNames.length + 1);
    for (const row of ranked) expect(row).toHaveLength(9);
    expect(
      ranked
        .slice(1)
        .map((row) => visible(row[1]!))
        .sort(),
    ).toEqual(hostileNames.map(asCell).sort());
  });
});

function hostileReport(): CheckReport {
  const items: CheckItem[] = hostileNames.map((name, index) => ({
    orchestrator: "airflow",
    pipeline: name,
    task: name,
    file: `dags/${name}.py`,
    line: index + 1,
    resource: "cpu",
    verdict: "over-provisioned",
    severity: index % 2 === 0 ? "critical" : "warning",
    declared: name,
    recommended: "1 core",
    message: `request ${name} is too high`,
  }));
  return {
    items,
    problems: [{ file: "dags/x\n::error::y.py", line: 3, message: "syntax error near ::error::z" }],
    violations: items,
    failOn: "warning",
    failed: true,
  } as CheckReport;
}

describe("check outputs", () => {
  it("the job summary keeps every hostile name as text in a seven-column table", () => {
    const root = assertInert(renderJobSummary(hostileReport()));
    const [table] = tables(root);
    expect(table).toHaveLength(hostileNames.length + 1);
    for (const row of table!) expect(row).toHaveLength(7);
    expect(table!.slice(1).map((row) => visible(row[6]!))).toEqual(
      hostileNames.map((name, index) => asCell(`dags/${name}.py:${index + 1}`)),
    );
  });

  it("workflow commands: one line each, data and properties escaped as GitHub's toolkit does", () => {
    const report = hostileReport();
    const lines = renderGithubAnnotations(report, "repo/").trimEnd().split("\n");
    expect(lines).toHaveLength(report.violations.length + report.problems.length);
    for (const line of lines)
      expect(line).toMatch(/^::(warning|error) file=[^:,]*,line=\d+,title=[^:,]*::[^\r\n]*$/);
    // Decoding each part the way the runner does gives back the names exactly.
    const [first] = lines.slice(1);
    const [, properties, data] = /^::error (.*?)::(.*)$/.exec(first!)!;
    const decode = (text: string) =>
      text
        .replace(/%0D/g, "\r")
        .replace(/%0A/g, "\n")
        .replace(/%3A/g, ":")
        .replace(/%2C/g, ",")
        .replace(/%25/g, "%");
    const file = properties!.split(",")[0]!.slice("file=".length);
    expect(decode(file)).toBe(`repo/dags/${hostileNames[0]}.py`);
    expect(decode(data!)).toBe(`request ${hostileNames[0]} is too high`);
  });

  it("escapes as GitHub documents: % first, CR and LF in data; also : and , in properties", () => {
    expect(escapeWorkflowData("100%\r\n::x")).toBe("100%25%0D%0A::x");
    expect(escapeWorkflowProperty("a:b,c%\n")).toBe("a%3Ab%2Cc%25%0A");
  });

  it("the text table and lines never let a name start a line or send escape sequences", () => {
    const text = renderCheckText(hostileReport());
    for (const line of text.split("\n")) expect(line).not.toMatch(/^::/);
    expect(text).not.toContain("\u001b");
    expect(text).not.toContain("\r");
    expect(escapeTextLine("a\n::error::b\u001b[0m")).toBe("a\\n::error::b\\x1b[0m");
  });
});

describe("pull request body", () => {
  it("keeps hostile task, file and value names as text in a six-column table", () => {
    const document: AnalysisDocument = { generatedAt: "2026-11-21T02:00:00Z", windowDays: 14, tasks: [] };
    const plan: PatchPlan = {
      files: [],
      changes: hostileNames.map((name, index) => ({
        file: `dags/${name}.py`,
        line: index + 1,
        orchestrator: "airflow",
        pipeline: name,
        tasks: [`${name}/t${index}`],
        resource: "cpu",
        kind: "request",
        from: "4",
        to: "1",
        fromValue: 4,
        toValue: 1,
        fromText: name,
        toText: "1 core",
        how: "shared",
      })),
      notes: hostileNames,
    } as PatchPlan;
    const root = assertInert(pullRequestBody(plan, document, ""));
    const [table] = tables(root);
    expect(table).toHaveLength(hostileNames.length + 1);
    for (const row of table!) expect(row).toHaveLength(6);
    expect(table!.slice(1).map((row) => visible(row[0]!))).toEqual(
      hostileNames.map((name, index) => asCell(`${name}/t${index}`)),
    );
  });
});
