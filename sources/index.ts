/**
 * The `sources/` room's public functions: what `cli/` (and `analyzer/`) may call. Everything else in the
 * room is its own business.
 */
export {
  type CheckReport,
  checkRequests,
  renderCheckJson,
  renderCheckText,
  renderGithubAnnotations,
  renderJobSummary,
} from "./check.js";
export { declaredRows } from "./declared-rows.js";
export { type NotAppliedDeclaration, notAppliedDeclarations } from "./effective.js";
export type { PrefectNames } from "./declaration-patterns.js";
export type { Finding, ScanResult } from "./findings.js";
export type { PatchPlan } from "./patch-plan.js";
export { renderUnifiedDiff } from "./patch-render.js";
export { describePlan, planRepositoryChanges, type RepositoryPlan } from "./plan-changes.js";
export {
  changedTasks,
  makePullRequest,
  type PullRequestOptions,
  type PullRequestResult,
} from "./pull-request.js";
export { describeValue } from "./quantities.js";
export { describeProblems, readRecommendationsFile } from "./recommendations.js";
export { scanRepository } from "./scan-repository.js";
