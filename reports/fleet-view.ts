/**
 * The report's fleet sections ("Cost over time", "Where tasks should run") from a fleet document
 * (common/fleet-document.ts): the fleet's weekly cost as an inline SVG bar chart (cost at the request,
 * and inside it the cost of what was used), the biggest growers' sentences, and one row per placement
 * group. Plain data for the templates (partials/fleet.hbs, partials/fleet-md.hbs), which escape every
 * name for where it goes.
 */
import type { FleetDocument } from "../common/fleet-document.js";
import {
  compareLine,
  familyPricesLine,
  fleetWeeks,
  groupSavingText,
  growersWeekTable,
  growerWeeks,
  noGrowersLine,
  savingLine,
  shownGrowers,
} from "./fleet.js";
import { formatBytes, formatUsd } from "./format.js";

/** Chart size in SVG units; the SVG scales down to the page (a 390 px phone) through its viewBox. */
export const FLEET_CHART_WIDTH = 480;
export const FLEET_CHART_HEIGHT = 120;
const LABEL_HEIGHT = 14;
/** A grower's weekly cost: a small bar chart beside its sentence, scaled to its own largest week. */
export const SPARK_WIDTH = 120;
export const SPARK_HEIGHT = 24;

export interface SparkBar {
  x: number;
  y: number;
  width: number;
  height: number;
  title: string;
}

export interface GrowerRow {
  sentence: string;
  caption: string;
  bars: SparkBar[];
}

export interface FleetWeekBar {
  x: number;
  width: number;
  costY: number;
  costHeight: number;
  usedY: number;
  usedHeight: number;
  title: string;
  label: string;
  labelX: number;
}

export interface FleetView {
  caption: string;
  width: number;
  height: number;
  plotHeight: number;
  bars: FleetWeekBar[];
  /** The periods the growers compare. */
  compare: string;
  noGrowers: string;
  /** The growers' sentences (the email's list) and, for the report, each with its weeks. */
  growers: string[];
  growerRows: GrowerRow[];
  /** Markdown: the growers' weeks as table lines, every name escaped (reports/fleet.ts). */
  growersWeekTable: string[];
  sparkWidth: number;
  sparkHeight: number;
  groups: Array<{
    group: string;
    tasks: number;
    family: string;
    worker: string;
    workersNeeded: number;
    hostsAtPeak: number;
    saving: string;
    airflowCelery: string;
    airflowKubernetes: string;
    prefect: string;
    sentence: string;
  }>;
  saving: string;
  familyPrices: string;
  evidence: string;
}

/** One bar per week of `costs`, the largest the full height; a week with any cost at least 1 unit tall. */
function sparkBars(costs: ReadonlyArray<number>, weekStarts: ReadonlyArray<string>): SparkBar[] {
  const top = Math.max(...costs, 1e-9);
  const slot = SPARK_WIDTH / Math.max(1, costs.length);
  return costs.map((cost, index) => {
    const height = cost > 0 ? Math.max(1, (cost / top) * (SPARK_HEIGHT - 2)) : 0;
    return {
      x: round(index * slot + slot * 0.1),
      y: round(SPARK_HEIGHT - height),
      width: round(slot * 0.8),
      height: round(height),
      title: `week of ${weekStarts[index]!.slice(0, 10)}: ${formatUsd(cost)}`,
    };
  });
}

export function fleetViewOf(fleet: FleetDocument | undefined): FleetView | null {
  if (!fleet) return null;
  const weeks = fleetWeeks(fleet);
  const plotHeight = FLEET_CHART_HEIGHT - LABEL_HEIGHT;
  const top = Math.max(...weeks.map((week) => Math.max(week.costUsd, week.usedCostUsd)), 1e-9);
  const slot = FLEET_CHART_WIDTH / Math.max(1, weeks.length);
  const heightOf = (usd: number) => (Math.max(0, usd) / top) * (plotHeight - 4);
  const bars = weeks.map((week, index) => {
    const costHeight = heightOf(week.costUsd);
    const usedHeight = Math.min(costHeight, heightOf(week.usedCostUsd));
    const x = index * slot + slot * 0.15;
    return {
      x: round(x),
      width: round(slot * 0.7),
      costY: round(plotHeight - costHeight),
      costHeight: round(costHeight),
      usedY: round(plotHeight - usedHeight),
      usedHeight: round(usedHeight),
      title: `week of ${week.weekStart.slice(0, 10)}: ${formatUsd(week.costUsd)} at the request, ${formatUsd(week.usedCostUsd)} used, ${week.runs} runs`,
      label: week.weekStart.slice(5, 10),
      labelX: round(index * slot + slot / 2),
    };
  });
  const growers = shownGrowers(fleet);
  return {
    caption: `Fleet cost per week over ${fleet.weeks} weeks: at the request (bar) and used (inner bar); axis 0–${formatUsd(top)}`,
    width: FLEET_CHART_WIDTH,
    height: FLEET_CHART_HEIGHT,
    plotHeight,
    bars,
    compare: compareLine(fleet),
    noGrowers: noGrowersLine(fleet),
    growers: growers.map((growth) => growth.sentence),
    growerRows: growers.map((growth) => {
      const costs = growerWeeks(fleet, growth);
      return {
        sentence: growth.sentence,
        caption: `cost per week: ${costs.map((cost) => formatUsd(cost)).join(", ")}`,
        bars: sparkBars(costs, fleet.weekStarts),
      };
    }),
    growersWeekTable: growers.length > 0 ? growersWeekTable(fleet, growers) : [],
    sparkWidth: SPARK_WIDTH,
    sparkHeight: SPARK_HEIGHT,
    groups: fleet.placement.groups.map((group) => ({
      group: group.group,
      tasks: group.tasks.length,
      family: group.family,
      worker: `${group.shape.cpuCores} vCPU / ${formatBytes(group.shape.memoryBytes)}`,
      workersNeeded: group.workersNeeded,
      hostsAtPeak: group.hostsAtPeak,
      saving: groupSavingText(group),
      ...group.placement,
      sentence: group.sentence,
    })),
    saving: savingLine(fleet),
    familyPrices: familyPricesLine(fleet),
    evidence: fleet.placement.evidence,
  };
}

const round = (value: number) => Math.round(value * 10) / 10;
