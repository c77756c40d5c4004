/**
 * The fleet document from the database: the window's runs and the hosts (db/queries/fleet.ts) with the
 * analysis the caller holds, composed by the pure buildFleetDocument (analyzer/fleet.ts). One read for
 * `rightsize fleet` and for the report's fleet sections.
 */
import type { AnalysisDocument } from "../common/analysis-document.js";
import type { FleetDocument } from "../common/fleet-document.js";
import type { Db } from "../db/client.js";
import { loadFleetRuns, loadHostSizes } from "../db/queries/fleet.js";
import { type Pricing, WEEK_DAYS } from "./cost-over-time.js";
import { buildFleetDocument } from "./fleet.js";

export interface FleetReadOptions {
  weeks: number;
  /** The end of the last week (exclusive). */
  end: Date;
  pricing: Pricing;
  analysis: AnalysisDocument | null;
  generatedAt?: Date;
}

export async function loadFleetDocument(db: Db, options: FleetReadOptions): Promise<FleetDocument> {
  const start = new Date(options.end.getTime() - options.weeks * WEEK_DAYS * 86_400_000);
  const [runs, hosts] = await Promise.all([
    loadFleetRuns(db, { start, end: options.end }),
    loadHostSizes(db),
  ]);
  return buildFleetDocument({
    runs,
    hosts,
    analysis: options.analysis,
    end: options.end,
    weeks: options.weeks,
    pricing: options.pricing,
    generatedAt: options.generatedAt ?? new Date(),
  });
}

/**
 * The report's fleet sections for an analysis (docs/fleet.md): `weeks` weeks ending with its window, at its
 * prices; undefined when those weeks hold no run, so a report without runs shows no empty chart.
 */
export async function fleetSectionsFor(
  db: Db,
  analysis: AnalysisDocument,
  settings: { weeks: number; pricing: Pricing },
): Promise<FleetDocument | undefined> {
  const fleet = await loadFleetDocument(db, {
    weeks: settings.weeks,
    end: analysis.windowEnd ? new Date(analysis.windowEnd) : new Date(analysis.generatedAt),
    pricing: analysis.pricing ?? settings.pricing,
    analysis,
  });
  return fleet.costOverTime.tasks.length > 0 ? fleet : undefined;
}
