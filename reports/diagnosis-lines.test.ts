import type { Root } from "mdast";
import { toString as mdText } from "mdast-util-to-string";
import remarkGfm from "remark-gfm";
import remarkParse from "remark-parse";
import { unified } from "unified";
import { describe, expect, it } from "vitest";
import type { TaskAnalysis } from "../common/analysis-document.js";
import { sampleAnalysis } from "../test-support/report-fixtures.js";
import { renderEmail, renderHtmlReport, renderMarkdownReport } from "./render.js";
import { slackMessage } from "./slack.js";

/** A slower run's diagnosis as the analysis document holds it, waiting on `endpoint`. */
function slowerRun(endpoint: string): NonNullable<TaskAnalysis["diagnosis"]>["latest"] {
  return {
    executionId: "00000000-0000-4000-8000-000000000001",
    runId: "scheduled__2026-11-20",
    tryNumber: 1,
    startedAt: "2026-11-20T01:00:00.000Z",
    durationSeconds: 1500,
    verdict: "slower",
    comparableRuns: 12,
    baselineSeconds: 900,
    deltaSeconds: 600,
    mainCause: "networkWait",
    mainEndpoint: endpoint,
    mainCauseText: `+9m 00s waiting on ${endpoint}`,
    components: [],
    sentences: [],
  };
}

describe("Markdown report: the main cause of each regressed task", () => {
  it("one line per regressed task with a diagnosed cause, names kept as text", () => {
    const document = sampleAnalysis();
    const hostile = "[x](https://evil.example/)\n::error::pwned";
    for (const task of document.tasks) {
      if (task.regressions?.length) {
        task.diagnosis = {
          latest: slowerRun(hostile),
          variation: {
            inconsistent: false,
            p95OverP50: 1,
            cv: 0,
            factor: null,
            r: null,
            runs: 12,
            sentence: "",
          },
        };
      }
    }
    const markdown = renderMarkdownReport(document);
    const root = unified().use(remarkParse).use(remarkGfm).parse(markdown) as Root;
    const items = root.children.filter((node) => node.type === "list").map((node) => mdText(node));
    expect(items.join("\n")).toContain(
      "export_to_s3, run scheduled__2026-11-20: 25m 00s against the median run's 15m 00s, +9m 00s waiting on [x](https:\u200d//evil.example/) ::error::pwned",
    );
    expect(markdown).not.toMatch(/\]\(https:\/\/evil/);
    expect(markdown).not.toMatch(/^::error::/m);
  });

  it("no line without a diagnosis that names a cause", () => {
    expect(renderMarkdownReport(sampleAnalysis())).not.toMatch(/against the median run's/);
  });
});

describe("HTML report: the diagnosis beside each task's timelines", () => {
  it("shows a slower run's sentences and what the duration follows, names escaped", () => {
    const document = sampleAnalysis();
    const task = document.tasks.find((item) => item.task === "export_to_s3")!;
    task.diagnosis = {
      latest: {
        ...slowerRun("<img src=x onerror=alert(1)>:443"),
        sentences: ["+9m 00s waiting on <img src=x onerror=alert(1)>:443."],
      },
      variation: {
        inconsistent: true,
        p95OverP50: 1.7,
        cv: 0.4,
        factor: "bytes read",
        r: 0.93,
        runs: 28,
        sentence: "Duration follows bytes read: r = 0.93 over 28 runs (strong).",
      },
    };
    const html = renderHtmlReport(document);
    expect(html).toContain("<strong>Why run scheduled__2026-11-20 took 25m 00s</strong> (latest run):");
    expect(html).toContain("<li>+9m 00s waiting on &lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;:443.</li>");
    expect(html).toContain(
      '<p class="diagnosis">Duration follows bytes read: r &#x3D; 0.93 over 28 runs (strong).</p>',
    );
    expect(html).not.toContain("<img src=x");
  });
});

describe("email and Slack: the main cause beside each regressed task", () => {
  const document = sampleAnalysis();
  for (const task of document.tasks) {
    if (task.regressions?.length) {
      task.diagnosis = {
        latest: slowerRun("<!here>\napi:443"),
        variation: {
          inconsistent: false,
          p95OverP50: 1,
          cv: 0,
          factor: null,
          r: null,
          runs: 12,
          sentence: "",
        },
      };
    }
  }

  it("the email's text and HTML parts name it", () => {
    const email = renderEmail(document);
    expect(email.text).toContain(
      "- reporting / export_to_s3, run scheduled__2026-11-20: 25m 00s against the median run's 15m 00s, +9m 00s waiting on <!here>\\napi:443",
    );
    expect(email.html).toContain("+9m 00s waiting on &lt;!here&gt;\napi:443</li>");
  });

  it("Slack names it on the task's line, escaped", () => {
    const text = JSON.stringify(slackMessage(document).blocks);
    expect(text).toContain(
      "regressed: 25m 00s against the median run's 15m 00s, +9m 00s waiting on &lt;!here&gt; api:443",
    );
    expect(text).not.toContain("<!here>");
  });
});
