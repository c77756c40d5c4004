/**
 * The fleet document (common/fleet-document.ts) for people: plain text for a terminal or a CI log, and
 * Markdown for a pull-request comment or a job summary (`rightsize fleet --format text|md`). Every name
 * from a process or a repository is escaped for where it goes (reports/escape.ts): a task named with a
 * line break or `::error::` stays one line of text, one with `|` or `<script>` stays one table cell.
 */
import type { FleetDocument, FleetGrowth, FleetPlacementGroup } from "../common/fleet-document.js";
import { escapeMarkdown, escapeTextLine } from "./escape.js";
import { formatBytes, formatInstant, formatUsd } from "./format.js";

/** Growers listed, biggest first (chosen value: a screen's worth). */
export const GROWERS_SHOWN = 10;

/** The whole fleet's cost per week: its pipelines' sums. */
export function fleetWeeks(
  document: FleetDocument,
): Array<{ weekStart: string; costUsd: number; usedCostUsd: number; runs: number }> {
  return document.weekStarts.map((weekStart, index) => {
    let costUsd = 0;
    let usedCostUsd = 0;
    let runs = 0;
    for (const pipeline of document.costOverTime.pipelines) {
      const week = pipeline.weeks[index];
      if (!week) continue;
      costUsd += week.costUsd;
      usedCostUsd += week.usedCostUsd;
      runs += week.runs;
    }
    return { weekStart, costUsd, usedCostUsd, runs };
  });
}

/** Growers worth a line: a cost that moved, biggest increase first. */
export function shownGrowers(document: FleetDocument): FleetGrowth[] {
  return document.costOverTime.growers
    .filter((growth) => growth.weeklyIncreaseUsd !== 0)
    .slice(0, GROWERS_SHOWN);
}

/** A grower's cost week by week: its task's series, or its pipeline's. */
export function growerWeeks(document: FleetDocument, growth: FleetGrowth): number[] {
  const series =
    growth.kind === "task"
      ? document.costOverTime.tasks.find(
          (task) =>
            task.orchestrator === growth.orchestrator &&
            task.pipeline === growth.pipeline &&
            task.task === growth.task,
        )
      : document.costOverTime.pipelines.find(
          (pipeline) =>
            pipeline.orchestrator === growth.orchestrator && pipeline.pipeline === growth.pipeline,
        );
  return document.weekStarts.map((_, index) => series?.weeks[index]?.costUsd ?? 0);
}

const weeksText = (range: { firstWeek: number; lastWeek: number }) =>
  range.firstWeek === range.lastWeek
    ? `week ${range.firstWeek}`
    : `weeks ${range.firstWeek}–${range.lastWeek}`;

/** "weeks 5–8 against weeks 1–4 (cost per week)": the periods the growers compare. */
export function compareLine(document: FleetDocument): string {
  const { compare } = document.costOverTime;
  if (!compare) return "one week: nothing to compare it with";
  return `${weeksText(compare.after)} (from ${compare.after.from.slice(0, 10)}) against ${weeksText(compare.before)} (from ${compare.before.from.slice(0, 10)}), cost per week`;
}

/** "Nothing moved" in the comparison's own terms. */
export function noGrowersLine(document: FleetDocument): string {
  const { compare } = document.costOverTime;
  return compare
    ? `No cost moved between ${weeksText(compare.before)} and ${weeksText(compare.after)}.`
    : "One week holds nothing to compare with: pass --weeks 2 or more.";
}

/** A group's saving: its share of the hosts at its peak against its workers, per hour and a month. */
export function groupSavingText(group: FleetPlacementGroup): string {
  if (group.neededCostPerHourUsd === undefined) return "";
  if (group.peakRuns === 0) return "no run in the window";
  if (group.ranCostPerHourUsd === null || group.ranCostPerHourUsd === undefined)
    return `${formatUsd(group.neededCostPerHourUsd)} an hour; the hosts' sizes are not all recorded`;
  const month = group.monthlySavingsUsd ?? 0;
  return `${formatUsd(group.ranCostPerHourUsd)} an hour ran against ${formatUsd(group.neededCostPerHourUsd)}: ${month < 0 ? `${formatUsd(-month)} a month more` : `${formatUsd(month)} a month saved`}`;
}

/** Where the workers' prices come from. */
export function familyPricesLine(document: FleetDocument): string {
  const prices = document.placement.familyPrices;
  if (!prices) return "";
  const each = Object.entries(prices.families)
    .map(
      ([family, price]) => `${family} $${Number(price.vcpuHourUsd.toPrecision(4))} (${price.instance} ÷ 2)`,
    )
    .join(", ");
  return `Workers and hosts priced per vCPU-hour: ${each}; ${prices.source}.`;
}

function headline(document: FleetDocument): string {
  return `${document.weeks} weeks to ${formatInstant(document.windowEnd)}, priced at $${document.pricing.cpuHourUsd} per CPU-hour and $${document.pricing.memoryGibHourUsd} per GiB-hour`;
}

export function savingLine(document: FleetDocument): string {
  const { placement } = document;
  if (placement.peakAt === null) return "No run of an analyzed task yet: nothing to pack.";
  const ran =
    placement.ranCostPerHourUsd === null
      ? "the hosts' sizes are not all recorded, so the saving is unknown"
      : `${formatUsd(placement.ranCostPerHourUsd)} an hour against ${formatUsd(placement.neededCostPerHourUsd)}, ${formatUsd(placement.monthlySavingsUsd)} a month`;
  return `At the busiest instant (${formatInstant(placement.peakAt)}) ${placement.peakRuns} runs ran on ${placement.hostsAtPeak} hosts; the groups' workers need ${placement.workersNeededAtPeak}: ${ran}.`;
}

function shapeText(group: FleetPlacementGroup): string {
  return `${group.shape.cpuCores} vCPU / ${formatBytes(group.shape.memoryBytes)}`;
}

/** Plain text: one escaped line per figure. */
export function renderFleetText(document: FleetDocument): string {
  const lines = [
    `rightsize fleet: ${headline(document)}`,
    "",
    "Cost over time (request × hours held × price; used: CPU-seconds and peak memory)",
  ];
  lines.push("  week of            cost        used   runs");
  for (const week of fleetWeeks(document)) {
    lines.push(
      `  ${week.weekStart.slice(0, 10)}  ${formatUsd(week.costUsd).padStart(10)}  ${formatUsd(week.usedCostUsd).padStart(10)}  ${String(week.runs).padStart(5)}`,
    );
  }
  if (document.costOverTime.unpricedRuns > 0)
    lines.push(
      `  ${document.costOverTime.unpricedRuns} runs without a known request or recommendation are not priced`,
    );
  lines.push("", `Biggest growers: ${compareLine(document)}`);
  const growers = shownGrowers(document);
  if (growers.length === 0) lines.push(`  ${noGrowersLine(document)}`);
  growers.forEach((growth, index) => {
    lines.push(`  ${index + 1}. ${escapeTextLine(growth.sentence)}`);
    lines.push(`     weekly: ${growerWeeks(document, growth).map(formatUsd).join(" ")}`);
  });
  lines.push("", "Where tasks should run");
  if (document.placement.groups.length === 0)
    lines.push("  no analyzed task with a recommendation yet: run `rightsize analyze` first");
  for (const group of document.placement.groups) {
    lines.push(`  ${group.group}: ${escapeTextLine(group.sentence)}`);
    lines.push(
      `    tasks       ${escapeTextLine(
        group.tasks
          .slice(0, 5)
          .map((task) => `${task.pipeline}/${task.task}`)
          .join(", "),
      )}${group.tasks.length > 5 ? ", …" : ""}`,
    );
    lines.push(
      `    worker      ${shapeText(group)}, ${group.tasksPerWorker} ${group.tasksPerWorker === 1 ? "task" : "tasks"} at once`,
    );
    lines.push(`    Airflow     ${group.placement.airflowCelery}`);
    lines.push(`    Kubernetes  ${group.placement.airflowKubernetes}`);
    lines.push(`    Prefect     ${group.placement.prefect}`);
  }
  lines.push(`  ${savingLine(document)}`);
  const prices = familyPricesLine(document);
  if (prices) lines.push(`  ${prices}`);
  lines.push(`  ${document.placement.evidence}`);
  return `${lines.join("\n")}\n`;
}

/** Markdown: tables for the weeks and the groups, the growers as a numbered list. */
export function renderFleetMarkdown(document: FleetDocument): string {
  const lines = [`## Fleet: ${headline(document)}`, "", "### Cost over time", ""];
  lines.push("| week of | cost | used | runs |", "| --- | ---: | ---: | ---: |");
  for (const week of fleetWeeks(document)) {
    lines.push(
      `| ${week.weekStart.slice(0, 10)} | ${formatUsd(week.costUsd)} | ${formatUsd(week.usedCostUsd)} | ${week.runs} |`,
    );
  }
  lines.push(
    "",
    "Cost is the request × the hours it was held × price; used is CPU-seconds and peak memory at the same prices.",
    "",
  );
  const growers = shownGrowers(document);
  lines.push("#### Biggest growers", "", `${escapeMarkdown(compareLine(document))}.`, "");
  if (growers.length === 0) lines.push(noGrowersLine(document));
  growers.forEach((growth, index) => lines.push(`${index + 1}. ${escapeMarkdown(growth.sentence)}`));
  if (growers.length > 0) lines.push("", ...growersWeekTable(document, growers));
  lines.push("", "### Where tasks should run", "");
  if (document.placement.groups.length > 0) {
    lines.push(
      "| group | tasks | family | worker | workers at peak | saving | Airflow (Celery) | Kubernetes | Prefect |",
    );
    lines.push("| --- | ---: | --- | --- | ---: | --- | --- | --- | --- |");
    for (const group of document.placement.groups) {
      const code = (text: string) => escapeMarkdown(text);
      lines.push(
        `| ${group.group} | ${group.tasks.length} | ${group.family} | ${shapeText(group)} | ${group.workersNeeded} (ran on ${group.hostsAtPeak}) | ${escapeMarkdown(groupSavingText(group))} | ${code(group.placement.airflowCelery)} | ${code(group.placement.airflowKubernetes)} | ${code(group.placement.prefect)} |`,
      );
    }
    lines.push("");
  } else {
    lines.push("No analyzed task with a recommendation yet: run `rightsize analyze` first.", "");
  }
  lines.push(escapeMarkdown(savingLine(document)), "");
  const prices = familyPricesLine(document);
  if (prices) lines.push(escapeMarkdown(prices), "");
  lines.push(`_${escapeMarkdown(document.placement.evidence)}_`);
  return `${lines.join("\n")}\n`;
}

/** The growers' cost week by week as a Markdown table: one row per grower, one column per week. */
export function growersWeekTable(document: FleetDocument, growers: ReadonlyArray<FleetGrowth>): string[] {
  const header = `| grower | ${document.weekStarts.map((week) => week.slice(5, 10)).join(" | ")} |`;
  const rule = `| --- | ${document.weekStarts.map(() => "---:").join(" | ")} |`;
  const rows = growers.map((growth, index) => {
    const name = growth.task === null ? growth.pipeline : `${growth.pipeline}/${growth.task}`;
    return `| ${index + 1}. ${escapeMarkdown(name)} | ${growerWeeks(document, growth).map(formatUsd).join(" | ")} |`;
  });
  return [header, rule, ...rows];
}
