/** Scan findings as `declared_requests` rows: one per task, resource and kind (the first place wins). */
import type { NewDeclaredRequest } from "../db/queries/declared-requests.js";
import type { ScanResult } from "./findings.js";

export function declaredRows(repo: string, scan: ScanResult): NewDeclaredRequest[] {
  const rows = new Map<string, NewDeclaredRequest>();
  for (const finding of scan.findings) {
    for (const task of finding.tasks) {
      const key = [finding.orchestrator, finding.pipeline, task, finding.resource, finding.kind].join(
        "\u0000",
      );
      if (rows.has(key)) continue;
      rows.set(key, {
        repo,
        file: finding.file,
        line: finding.line,
        column: finding.column,
        orchestrator: finding.orchestrator,
        pipeline: finding.pipeline,
        task,
        resource: finding.resource,
        kind: finding.kind,
        raw: finding.raw,
        unit: finding.unit,
        value: finding.value,
        dynamic: finding.dynamic,
        pattern: finding.pattern,
      });
    }
  }
  return [...rows.values()];
}
