/**
 * What a patch plan is made of (pure data): the edits each planning step makes, the changes it reports
 * and the patched files, and the error that stops a patch from being written.
 */
import type { RequestKind, Resource } from "./findings.js";

/** A patch could not be made safely; nothing is written. */
export class PatchError extends Error {
  override name = "PatchError";
}

/** One value changed, for the command output, the commit message and the PR body. */
export interface Change {
  file: string;
  line: number;
  orchestrator: string;
  pipeline: string;
  /** `dag/task` (Airflow) or the deployment name (Prefect) of every task the change applies to. */
  tasks: string[];
  resource: Resource;
  kind: RequestKind;
  /** As written before and after (with quotes for strings). */
  from: string;
  to: string;
  fromValue: number;
  toValue: number;
  /** Human form of the values: `4 cores`, `8 GiB`. */
  fromText: string;
  toText: string;
  /** How the change was made. */
  how: "shared" | "override";
}

export interface PatchedFile {
  file: string;
  before: string;
  after: string;
}

export interface PatchPlan {
  files: PatchedFile[];
  changes: Change[];
  /** Why something was done a particular way, or left alone. */
  notes: string[];
}

export interface Edit {
  start: number;
  end: number;
  text: string;
}

/** An edit of one file. */
export interface FileEdit extends Edit {
  file: string;
}

/** What one step of the plan adds: edits, changes and notes, each in the order it made them. */
export interface PlanPart {
  edits: FileEdit[];
  changes: Change[];
  notes: string[];
}
