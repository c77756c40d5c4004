import { describe, expect, it } from "vitest";
import { sampleFleet } from "../test-support/fleet-fixtures.js";
import { hostileName, sampleAnalysis } from "../test-support/report-fixtures.js";
import { renderFleetMarkdown, renderFleetText } from "./fleet.js";
import { FLEET_CHART_HEIGHT, fleetViewOf } from "./fleet-view.js";
import { renderEmail, renderHtmlReport, renderMarkdownReport } from "./render.js";
import { slackMessage } from "./slack.js";

describe("the report's fleet sections", () => {
  const document = sampleFleet();

  it("draws one bar per week, the used cost inside the requested one", () => {
    const view = fleetViewOf(document)!;
    expect(view.bars).toHaveLength(4);
    for (const bar of view.bars) {
      expect(bar.usedHeight).toBeLessThanOrEqual(bar.costHeight);
      expect(bar.costY + bar.costHeight).toBeCloseTo(view.plotHeight, 5);
      expect(bar.costY).toBeGreaterThanOrEqual(0);
    }
    // The last week costs twice the first: its bar is the full plot height, the first half of it.
    expect(view.bars[3]!.costHeight).toBeCloseTo(2 * view.bars[0]!.costHeight, 1);
    expect(view.growers[0]).toContain("runs 2× longer because it reads 2× more data");
    expect(fleetViewOf(undefined)).toBeNull();
  });

  it("adds both sections to the HTML and Markdown reports, every name escaped", () => {
    const analysis = sampleAnalysis();
    const html = renderHtmlReport(analysis, { fleet: document });
    expect(html).toContain("<h2>Cost over time</h2>");
    expect(html).toContain("<h2>Where tasks should run</h2>");
    expect(html).toMatch(new RegExp(`<svg role="img" viewBox="0 0 480 ${FLEET_CHART_HEIGHT}"`));
    expect(html).not.toContain(hostileName);
    expect(html).toContain("&lt;script&gt;");
    expect(renderHtmlReport(analysis)).not.toContain("Cost over time");

    const markdown = renderMarkdownReport(analysis, { fleet: document });
    expect(markdown).toContain("### Cost over time");
    expect(markdown).toContain("### Where tasks should run");
    expect(markdown).not.toContain("<script>");
    expect(markdown).not.toMatch(/\n::error::/);
    expect(renderMarkdownReport(analysis)).not.toContain("Cost over time");
  });

  it("lists the biggest growers in the email, escaped in HTML and one line each in text", () => {
    const email = renderEmail(sampleAnalysis(), { fleet: document });
    expect(email.html).toContain("Biggest cost growers");
    expect(email.html).not.toContain(hostileName);
    expect(email.text).toMatch(/Biggest cost growers:\n- .*runs 2× longer because it reads 2× more data\n/);
    expect(email.text).not.toMatch(/\n::error::/);
    expect(renderEmail(sampleAnalysis()).text).not.toContain("Biggest cost growers");
  });

  it("lists the biggest growers in the Slack message, escaped, on one line each", () => {
    const message = JSON.stringify(slackMessage(sampleAnalysis(), { fleet: document }).blocks);
    expect(message).toContain("*Biggest cost growers*");
    expect(message).toContain("&lt;script&gt;");
    expect(message).not.toContain("<script>");
    expect(message).not.toContain("\\n::error::");
    expect(JSON.stringify(slackMessage(sampleAnalysis()).blocks)).not.toContain("growers");
  });

  it("keeps hostile names on one line in text and one cell in Markdown", () => {
    const text = renderFleetText(document);
    expect(text).not.toMatch(/\n::error::/);
    expect(text).toContain("\\n::error::x");
    const markdown = renderFleetMarkdown(document);
    expect(markdown).not.toContain("<script>");
    const cells = (line: string) => line.split(/(?<!\\)\|/).length;
    const groupRows = markdown.split("\n").filter((row) => row.startsWith("| disk-bound"));
    expect(groupRows).toHaveLength(1);
    for (const line of groupRows) expect(cells(line)).toBe(11);
    // The growers' weeks: one cell per week beside the (escaped) name.
    const weekRows = markdown.split("\n").filter((row) => /^\| \d+\. /.test(row));
    expect(weekRows.length).toBeGreaterThan(0);
    for (const line of weekRows) expect(cells(line)).toBe(2 + 1 + document.weekStarts.length);
  });

  it("shows each grower's weeks beside its sentence, and the periods compared", () => {
    const view = fleetViewOf(document)!;
    expect(view.compare).toBe(
      "weeks 3–4 (from 2026-11-23) against weeks 1–2 (from 2026-11-09), cost per week",
    );
    const [row] = view.growerRows;
    expect(row!.bars).toHaveLength(4);
    // The last two weeks cost twice the first two: their bars are full height, the first ones half of it.
    expect(row!.bars[3]!.height).toBeCloseTo(2 * row!.bars[0]!.height, 1);
    expect(row!.bars[2]!.height).toBeCloseTo(row!.bars[3]!.height, 5);
    for (const bar of row!.bars) expect(bar.y + bar.height).toBeCloseTo(view.sparkHeight, 5);
    const html = renderHtmlReport(sampleAnalysis(), { fleet: document });
    expect(html).toContain('<figure class="chart fleet-spark">');
    expect(html).toContain("weeks 3–4 (from 2026-11-23) against weeks 1–2");
    expect(html).toContain("<th>saving</th>");
    expect(renderFleetText(document)).toContain(
      "Biggest growers: weeks 3–4 (from 2026-11-23) against weeks 1–2",
    );
  });

  it("gives each group its saving, and names where the families' prices come from", () => {
    const groups = new Map(document.placement.groups.map((group) => [group.group, group]));
    expect(groups.get("disk-bound")!.monthlySavingsUsd).toBeGreaterThan(0);
    // A group whose tasks did not run in the window claims no saving.
    expect(groups.get("cpu-bound")).toMatchObject({ peakRuns: 0, monthlySavingsUsd: null });
    const view = fleetViewOf(document)!;
    const savings = new Map(view.groups.map((group) => [group.group, group.saving]));
    expect(savings.get("disk-bound")).toMatch(
      /^\$[\d.]+ an hour ran against \$[\d.]+: \$[\d,.]+ a month saved$/,
    );
    expect(savings.get("cpu-bound")).toBe("no run in the window");
    expect(view.familyPrices).toContain("https://aws.amazon.com/ec2/pricing/on-demand/");
    const markdown = renderFleetMarkdown(document);
    expect(markdown).toContain("| saving |");
    expect(markdown).toContain("i4i.large");
  });
});
