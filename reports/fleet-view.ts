/**
 * The report's fleet sections ("Cost over time", "Where tasks should run") from a fleet document
 * (common/fleet-document.ts): the fleet's weekly cost as an inline SVG bar chart (cost at the request,
 * and inside it the cost of what was used), the biggest growers' sentences, and one row per placement
 * group. Plain data for the templates (partials/fleet.hbs, partials/fleet-md.hbs), which escape every
 * name for where it goes.
 */
import type { FleetDocument } from "../common/fleet-document.js";
import { fleetWeeks, GROWERS_SHOWN, savingLine } from "./fleet.js";
import { formatBytes, formatUsd } from "./format.js";

/** Chart size in SVG units; the SVG scales down to the page (a 390 px phone) through its viewBox. */
export const FLEET_CHART_WIDTH = 480;
export const FLEET_CHART_HEIGHT = 120;
const LABEL_HEIGHT = 14;

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
  growers: string[];
  groups: Array<{
    group: string;
    tasks: number;
    family: string;
    worker: string;
    workersNeeded: number;
    hostsAtPeak: number;
    airflowCelery: string;
    airflowKubernetes: string;
    prefect: string;
    sentence: string;
  }>;
  saving: string;
  evidence: string;
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
  const moved = fleet.costOverTime.growers.filter((growth) => growth.weeklyIncreaseUsd !== 0);
  return {
    caption: `Fleet cost per week over ${fleet.weeks} weeks: at the request (bar) and used (inner bar); axis 0–${formatUsd(top)}`,
    width: FLEET_CHART_WIDTH,
    height: FLEET_CHART_HEIGHT,
    plotHeight,
    bars,
    growers: moved.slice(0, GROWERS_SHOWN).map((growth) => growth.sentence),
    groups: fleet.placement.groups.map((group) => ({
      group: group.group,
      tasks: group.tasks.length,
      family: group.family,
      worker: `${group.shape.cpuCores} vCPU / ${formatBytes(group.shape.memoryBytes)}`,
      workersNeeded: group.workersNeeded,
      hostsAtPeak: group.hostsAtPeak,
      ...group.placement,
      sentence: group.sentence,
    })),
    saving: savingLine(fleet),
    evidence: fleet.placement.evidence,
  };
}

const round = (value: number) => Math.round(value * 10) / 10;
