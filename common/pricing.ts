/**
 * Prices over time: `pricing.cpuHourUsd` and `pricing.memoryGibHourUsd` are the prices before the first
 * entry of `pricing.history`, and each entry sets the prices it names from the day it took effect
 * (README.md "Configuration", docs/fleet.md "Prices over time"). Appending an entry when a
 * provider changes its prices keeps every earlier week priced as it was billed.
 */

/** USD per vCPU-hour and per GiB-hour. */
export interface Pricing {
  cpuHourUsd: number;
  memoryGibHourUsd: number;
}

/** One entry of `pricing.history`: the prices it names, from `from` on. */
export interface PriceChange {
  from: Date;
  cpuHourUsd?: number;
  memoryGibHourUsd?: number;
}

/** The configured prices: the base and its history, oldest change first. */
export interface PricingSettings extends Pricing {
  history: ReadonlyArray<PriceChange>;
}

/** The prices in effect at `at`: each resource's latest change on or before it, else the base. */
export function pricesAt(settings: PricingSettings, at: Date): Pricing {
  const prices: Pricing = { cpuHourUsd: settings.cpuHourUsd, memoryGibHourUsd: settings.memoryGibHourUsd };
  const time = at.getTime();
  for (const change of settings.history) {
    if (change.from.getTime() > time) break;
    if (change.cpuHourUsd !== undefined) prices.cpuHourUsd = change.cpuHourUsd;
    if (change.memoryGibHourUsd !== undefined) prices.memoryGibHourUsd = change.memoryGibHourUsd;
  }
  return prices;
}

/** A price lookup for many instants (one per run): the settings' prices, or one price when there is no history. */
export function priceLookup(settings: PricingSettings): Pricing | ((at: Date) => Pricing) {
  if (settings.history.length === 0)
    return { cpuHourUsd: settings.cpuHourUsd, memoryGibHourUsd: settings.memoryGibHourUsd };
  return (at) => pricesAt(settings, at);
}

/** The configured prices (common/config.ts keeps the history beside the base prices). */
export function pricingSettingsOf(config: {
  pricing: Pricing;
  priceHistory: ReadonlyArray<PriceChange>;
}): PricingSettings {
  return { ...config.pricing, history: config.priceHistory };
}
