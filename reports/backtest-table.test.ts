/** The backtest's sentence, its risk mark, and the `backtest` command's renderers with hostile task names. */
import { describe, expect, it } from "vitest";
import { backtestShowsOomRisk, type TaskAnalysis } from "../common/analysis-document.js";
import { MiB } from "../common/units.js";
import { hostileNames, sampleAnalysis } from "../test-support/report-fixtures.js";
import {
  backtestSentenceOf,
  type BacktestView,
  pastRunsLines,
  renderBacktestMarkdown,
  renderBacktestText,
} from "./backtest-table.js";
import { renderEmail, renderHtmlReport, renderMarkdownReport } from "./render.js";
import { slackMessage } from "./slack.js";

type TaskBacktest = NonNullable<TaskAnalysis["backtest"]>;

const replay = {
  cpuCores: 0.5,
  memoryBytes: 576 * MiB,
  runs: 42,
  overMemory: 0,
  reclaimZone: 2,
  cpuCapped: 3,
  cappedSeconds: 12,
  stretchedRuns: 1,
  maxStretch: 0.06,
  coreHoursSaved: 1,
  gibHoursSaved: 2,
  usdSaved: 0.04,
};

function backtest(overrides: Partial<TaskBacktest> = {}): TaskBacktest {
  return {
    policy: "rightsize",
    maxOverMemoryShare: 0.01,
    inSample: replay,
    outOfSample: { ...replay, memoryBytes: 512 * MiB, trainingRuns: 32, runs: 10 },
    meetsTarget: true,
    ...overrides,
  };
}

describe("backtestSentenceOf", () => {
  it("says what the recommendation would have done to the runs, in and out of sample", () => {
    expect(backtestSentenceOf(backtest())).toBe(
      "none of its 42 runs would have exceeded 576 MiB; 1 would have run up to about 6 % longer on 0.5 cores; sized from the older runs, none of the 10 newest would have exceeded 512 MiB",
    );
    expect(
      backtestSentenceOf(
        backtest({
          inSample: { ...replay, overMemory: 1, stretchedRuns: 0 },
          outOfSample: null,
          meetsTarget: null,
        }),
      ),
    ).toBe(
      "1 of its 42 runs would have exceeded 576 MiB; none would have run noticeably longer on 0.5 cores",
    );
  });

  it("marks OOM risk on a run over memory or a miss of the risk target, not otherwise", () => {
    expect(backtestShowsOomRisk({})).toBe(false);
    expect(backtestShowsOomRisk({ backtest: backtest() })).toBe(false);
    expect(backtestShowsOomRisk({ backtest: backtest({ meetsTarget: false }) })).toBe(true);
    expect(backtestShowsOomRisk({ backtest: backtest({ inSample: { ...replay, overMemory: 1 } }) })).toBe(
      true,
    );
  });
});

describe("the HTML report", () => {
  it("shows the risk column and the sentence per task", () => {
    const document = sampleAnalysis();
    document.tasks[0]!.backtest = backtest({ meetsTarget: false });
    const html = renderHtmlReport(document);
    expect(html).toContain(
      '<th title="the recommendation replayed on the runs: any run over memory">backtest</th>',
    );
    expect(html).toContain(
      '<p class="backtest">Backtest: none of its 42 runs would have exceeded 576 MiB; 1 would have run up to about 6 % longer on 0.5 cores;',
    );
    expect(html.match(/<span class="badge oom">OOM risk<\/span>/g)?.length).toBeGreaterThanOrEqual(1);
  });
});

describe("the Markdown report (and so the pull request body)", () => {
  it("says what each recommendation would have done to past runs, names escaped", () => {
    const document = sampleAnalysis();
    document.tasks[0]!.task = "load|orders";
    document.tasks[0]!.backtest = backtest({ meetsTarget: false });
    const markdown = renderMarkdownReport(document);
    expect(markdown).toContain("### Replayed on past runs");
    expect(markdown).toMatch(
      /- etl\\_daily \/ load\\\|orders: none of its 42 runs would have exceeded 576 MiB; .* \(OOM risk: no memory cut is proposed\)\n/,
    );
    expect(renderMarkdownReport(sampleAnalysis())).not.toContain("Replayed on past runs");
  });
});

describe("the email and the Slack message", () => {
  const sentence =
    "none of its 42 runs would have exceeded 576 MiB; 1 would have run up to about 6 % longer on 0.5 cores; sized from the older runs, none of the 10 newest would have exceeded 512 MiB";

  it("carry the report's backtest sentence for each listed task, with the OOM-risk mark", () => {
    const document = sampleAnalysis();
    document.tasks[0]!.backtest = backtest({ meetsTarget: false });
    document.tasks[1]!.backtest = backtest();
    const email = renderEmail(document);
    expect(email.text).toContain(
      `   Replayed on past runs: ${sentence} (OOM risk: no memory cut is proposed)\n`,
    );
    expect(email.text.match(/Replayed on past runs: /g)).toHaveLength(2);
    expect(email.html).toContain(
      `Replayed on past runs: ${sentence} <span style="color:#6a1b9a">(OOM risk: no memory cut is proposed)</span></td></tr>`,
    );
    expect(email.html.match(/Replayed on past runs: /g)).toHaveLength(2);
    const blocks = slackMessage(document).blocks as Array<{ text?: { text: string } }>;
    const replayed = blocks.find((block) => block.text?.text.startsWith("*Replayed on past runs*"));
    expect(replayed?.text?.text.split("\n")).toHaveLength(3);
    expect(replayed?.text?.text).toContain(` ${sentence} (OOM risk: no memory cut is proposed)`);
  });

  it("say nothing of a backtest where the report has none", () => {
    const email = renderEmail(sampleAnalysis());
    expect(email.text).not.toContain("Replayed on past runs");
    expect(email.html).not.toContain("Replayed on past runs");
    const blocks = slackMessage(sampleAnalysis()).blocks as Array<{ text?: { text: string } }>;
    expect(blocks.some((block) => block.text?.text.includes("Replayed on past runs"))).toBe(false);
  });

  it("keep hostile task names inert in Slack and in the email's text", () => {
    for (const name of hostileNames) {
      const document = sampleAnalysis();
      document.tasks[0]!.task = name;
      document.tasks[0]!.backtest = backtest();
      const blocks = slackMessage(document).blocks as Array<{ text?: { text: string } }>;
      const replayed = blocks.find((block) => block.text?.text.startsWith("*Replayed on past runs*"))!;
      const line = replayed.text!.text.split("\n")[1]!;
      expect(line).toMatch(/^• `[^`\n]*` none of its 42 runs/);
      expect(line).not.toMatch(/<(?!\/)|<!/);
    }
    // Five of the longest names, every character escaped, still fit a section's 3,000 characters.
    const document = sampleAnalysis();
    document.tasks = Array.from({ length: 5 }, (_, index) => ({
      ...document.tasks[0]!,
      pipeline: "<".repeat(40),
      task: `${"<".repeat(40)}${index}`,
      backtest: backtest({ meetsTarget: false }),
    }));
    const blocks = slackMessage(document).blocks as Array<{ text?: { text: string } }>;
    const replayed = blocks.find((block) => block.text?.text.startsWith("*Replayed on past runs*"))!;
    expect(replayed.text!.text.split("\n")).toHaveLength(6);
    expect(replayed.text!.text.length).toBeLessThanOrEqual(3000);
  });
});

describe("pastRunsLines (patch and pr output)", () => {
  it("says per task what its recommendation would have done to its past runs, names on one line", () => {
    const document = sampleAnalysis();
    const [first, second] = document.tasks;
    first!.task = "load\n::error::x";
    first!.backtest = backtest({ meetsTarget: false });
    second!.backtest = backtest({ outOfSample: null, meetsTarget: null });
    expect(pastRunsLines([first!, second!, document.tasks[2]!].filter(Boolean))).toEqual([
      `past runs of ${first!.orchestrator}/${first!.pipeline}/load\\n::error::x: none of its 42 runs would have exceeded 576 MiB; 1 would have run up to about 6 % longer on 0.5 cores; sized from the older runs, none of the 10 newest would have exceeded 512 MiB (OOM risk: no memory cut is proposed)`,
      `past runs of ${second!.orchestrator}/${second!.pipeline}/${second!.task}: none of its 42 runs would have exceeded 576 MiB; 1 would have run up to about 6 % longer on 0.5 cores`,
    ]);
  });
});

describe("the backtest command's renderers", () => {
  const view = (task: string): BacktestView => ({
    windowEnd: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    policy: "rightsize",
    maxOverMemoryShare: 0.01,
    policies: [
      {
        policy: "rightsize",
        description: "rightsize",
        tasks: 1,
        runs: 42,
        overMemory: 0,
        reclaimZone: 2,
        cpuCapped: 3,
        stretchedRuns: 1,
        usdSaved: 0.04,
        outOfSampleRuns: 10,
        outOfSampleOverMemory: 0,
        tasksOverTarget: 0,
      },
    ],
    tasks: [{ orchestrator: "airflow", pipeline: "etl", task, backtest: backtest() }],
  });

  it("keeps every hostile name on one line of text, and text in Markdown", () => {
    for (const name of hostileNames) {
      const text = renderBacktestText(view(name));
      // Headline, blank, 2 policy lines, blank, caption, header, one row.
      expect(text.trimEnd().split("\n"), JSON.stringify(name)).toHaveLength(8);
      expect(text).not.toMatch(/^::error/m);
      expect(text).not.toContain("\u001b");
      const markdown = renderBacktestMarkdown(view(name));
      const row = markdown.trimEnd().split("\n").at(-1)!;
      // Ten cells: a name's `|` never opens an eleventh.
      expect(row.split(/(?<!\\)\|/).length - 2, JSON.stringify(name)).toBe(10);
      expect(markdown).not.toMatch(/<(script|img)/);
    }
  });

  it("writes the policy's sums and the task's rows", () => {
    const text = renderBacktestText(view("load"));
    expect(text).toContain("rightsize  1      42    0 of 42      2 of 42       3 of 42     1 of 42");
    expect(text).toContain(
      "airflow/etl/load  42    576 MiB  0.5 cores  0 of 42      2 of 42       3 of 42     6 %",
    );
  });
});
