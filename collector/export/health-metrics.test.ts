import { describe, expect, it } from "vitest";
import { negotiateMetricsFormat } from "./health-metrics.js";

describe("negotiateMetricsFormat", () => {
  it.each([
    // Prometheus 2.x (scrape/scrape.go scrapeAcceptHeader) and with protobuf first, which is not served.
    [
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
      "openmetrics",
    ],
    [
      "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
      "openmetrics",
    ],
    ["application/openmetrics-text", "openmetrics"],
    ["Application/OpenMetrics-Text; Version=1.0.0", "openmetrics"],
    ['application/openmetrics-text; version="1.0.0"', "openmetrics"],
    // No header, anything, or what curl and browsers send: the text format.
    [undefined, "text"],
    ["", "text"],
    ["*/*", "text"],
    ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text"],
    ["text/plain", "text"],
    // Quality decides, not order; a refused range (q=0) never counts.
    ["text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5", "text"],
    ["text/plain;q=0.2,application/openmetrics-text;q=0.7", "openmetrics"],
    ["application/openmetrics-text;q=0,*/*", "text"],
    // Versions prom-client does not write are passed over.
    ["application/openmetrics-text;version=0.0.1", "text"],
    ["text/plain;version=1.0.0,application/openmetrics-text;q=0.5", "openmetrics"],
  ])("Accept: %s → %s", (accept, format) => {
    expect(negotiateMetricsFormat(accept)).toBe(format);
  });
});
