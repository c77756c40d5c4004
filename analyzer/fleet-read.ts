/**
 * The fleet document from the database: the window's runs and the hosts (db/queries/fleet.ts) with the
 * analysis the caller holds, composed by the pure buildFleetDocument (analyzer/fleet.ts). One read for
 * `rightsize fleet` and for the report's fleet sections.
 */
import type { AnalysisDocument } from "../common/analysis-document.js";
import type { FleetDocument } from "../common/fleet-document.js";
import type { Db } from "../db/client.js";
import { loadFleetRuns, loadHostSizes } from "../db/queries/fleet.js";
import type { PricingSettings } from "../common/pricing.js";
import type { Comparison } from "./cost-over-time.js";
import { WEEK_DAYS } from "./period-totals.js";
import { buildFleetDocument } from "./fleet.js";

export interface FleetReadOptions {
  weeks: number;
  /** The end of the last week (exclusive). */
  end: Date;
  pricing: PricingSettings;
  /** The periods compared; default the last four weeks against the four before (analyzer/cost-over-time.ts). */
  compare?: Comparison | null;
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
    ...(options.compare === undefined ? {} : { compare: options.compare }),
    generatedAt: options.generatedAt ?? new Date(),
  });
}

/**
 * The report's fleet sections for an analysis (docs/fleet.md): `weeks` weeks ending with its window, at the
 * configured price history, else at the analysis's prices; undefined when those weeks hold no run, so a
 * report without runs shows no empty chart.
 */
export async function fleetSectionsFor(
  db: Db,
  analysis: AnalysisDocument,
  settings: { weeks: number; pricing: PricingSettings },
): Promise<FleetDocument | undefined> {
  const fleet = await loadFleetDocument(db, {
    weeks: settings.weeks,
    end: analysis.windowEnd ? new Date(analysis.windowEnd) : new Date(analysis.generatedAt),
    pricing:
      settings.pricing.history.length === 0 && analysis.pricing
        ? { ...analysis.pricing, history: [] }
        : settings.pricing,
    analysis,
  });
  return fleet.costOverTime.tasks.length > 0 ? fleet : undefined;
}
