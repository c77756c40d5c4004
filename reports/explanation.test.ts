import { describe, expect, it } from "vitest";
import type { Explanation } from "../analyzer/explain.js";
import { diagnoseRun } from "../analyzer/diagnosis.js";
import { explainInconsistency } from "../analyzer/inconsistency.js";
import { hostileNames } from "../test-support/report-fixtures.js";
import { syntheticRun, syntheticRuns } from "../test-support/analyzer-fixtures.js";
import { renderExplanation } from "./explanation.js";

/** An explanation whose task, run, endpoint and neighbour are named `name`. */
function explanationNamed(name: string): Explanation {
  const runs = syntheticRuns(8);
  const run = syntheticRun(
    {
      runId: name,
      durationSeconds: 1800,
      endpoints: [{ endpoint: name, waitSeconds: 1200 }],
      netWaitSeconds: 1200,
      onCpuSeconds: 600,
    },
    20,
  );
  return {
    task: { orchestrator: "airflow", pipeline: name, task: name },
    windowStart: "2026-11-06T02:00:00.000Z",
    windowEnd: "2026-11-20T02:00:00.000Z",
    diagnosis: diagnoseRun(run, runs),
    neighbours: [
      {
        resource: "disk",
        extraWaitSeconds: 60,
        ranks: [],
        sentences: [`${name} (run ${name}) overlapped 5m 00s on the same host.`],
      },
    ],
    inconsistency: explainInconsistency(runs),
  };
}

describe("renderExplanation", () => {
  it("text: every name on its own line stays on it, without control characters", () => {
    for (const name of hostileNames) {
      const text = renderExplanation(explanationNamed(name), "text");
      for (const line of text.split("\n")) {
        expect(line).not.toMatch(/^::/);
        expect(line).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
      }
      expect(text).toMatch(/^airflow\//);
    }
  });

  it("md: names are text, no link, image or HTML", () => {
    for (const name of hostileNames) {
      const md = renderExplanation(explanationNamed(name), "md");
      expect(md).not.toMatch(/\]\(http/);
      expect(md).not.toMatch(/<(img|script|https)/);
      expect(md.split("\n").filter((line) => line.startsWith("### "))).toHaveLength(3);
    }
  });

  it("json: the explanation itself, names as written", () => {
    const explanation = explanationNamed("db:5432\nx");
    const parsed = JSON.parse(renderExplanation(explanation, "json"));
    expect(parsed.diagnosis.mainEndpoint).toBe("db:5432\nx");
    expect(parsed.diagnosis.mainCause).toBe("networkWait");
  });
});
