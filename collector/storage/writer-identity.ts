/**
 * Which id and try the writer stores an execution under (the identity rule, db/queries/executions.ts
 * `recordExecution`, docs/collector-storage.md "One identity, one execution"): the same root process seen
 * under a new id is stored under its first id, and its samples and processes follow it; a different
 * process holding a run's try is stored as the next try. Merges are remembered for the writer's life and
 * rebuilt from the database after a restart (recordExecution finds the stored row again).
 */

import type { Logger } from "../../common/logger.js";
import type { Db } from "../../db/client.js";
import { type NewExecution, recordExecution } from "../../db/queries/executions.js";

/** Executions stored under another id (the same root seen again) or another try (identity taken). */
export interface IdentityCounts {
  mergedExecutions: number;
  renumberedExecutions: number;
}

export class ExecutionIdentities {
  /** Execution ids the database knows under another id: their rows are written under that id. */
  private readonly aliases = new Map<string, string>();
  private readonly counts: IdentityCounts = { mergedExecutions: 0, renumberedExecutions: 0 };

  constructor(private readonly logger: Logger) {}

  stats(): IdentityCounts {
    return { ...this.counts };
  }

  /** The id the rows of execution `id` are stored under. */
  storedId(id: string): string {
    return this.aliases.get(id) ?? id;
  }

  /** A sample or process row under its execution's stored id (the row itself when that is its own). */
  storedRow<T extends { executionId: string }>(row: T): T {
    const alias = this.aliases.get(row.executionId);
    return alias ? { ...row, executionId: alias } : row;
  }

  /** Records one execution, merged or renumbered as the identity rule says. Database errors throw. */
  async record(db: Db, execution: NewExecution): Promise<void> {
    const aliased = this.aliases.get(execution.id);
    const recorded = await recordExecution(db, aliased ? { ...execution, id: aliased } : execution);
    if (recorded.kind === "merged" && !aliased) {
      this.aliases.set(execution.id, recorded.id);
      this.counts.mergedExecutions++;
      this.logger.info(
        { execution: execution.id, storedAs: recorded.id, rootPid: execution.rootPid },
        "execution seen again under a new id (same root process): stored under its first id",
      );
    } else if (recorded.kind === "renumbered") {
      this.counts.renumberedExecutions++;
      this.logger.warn(
        {
          execution: execution.id,
          pipeline: execution.pipeline,
          task: execution.task,
          runId: execution.runId,
          claimedTry: execution.tryNumber,
          storedTry: recorded.tryNumber,
        },
        "another process already holds this run's try: stored as the next try",
      );
    }
  }
}
