/**
 * Airflow task log file names, read back into a task key. Airflow renders `[logging] log_filename_template`
 * (env `AIRFLOW__LOGGING__LOG_FILENAME_TEMPLATE`) relative to `base_log_folder`: a Jinja template when it
 * holds `{{`, else a Python `str.format` one (apache/airflow `airflow/utils/log/file_task_handler.py`
 * `_render_filename`, `airflow/utils/helpers.py` `parse_template_string`, 2.x; the same in 3.x under
 * `airflow-core/src/airflow/utils/log/file_task_handler.py`). This module turns such a template into a
 * matcher for the open files of a process, so a user can paste the template their Airflow uses.
 */
import type { Attribution } from "./attribution-key.js";
import { mapIndexOf, positiveInt } from "./attribution-key.js";

/**
 * Default since Airflow 2.3 and in 3.x (apache/airflow `airflow/config_templates/config.yml`, 2.3+;
 * `airflow-core/src/airflow/config_templates/config.yml`, 3.0+: `[logging] log_filename_template`).
 */
export const AIRFLOW_DEFAULT_LOG_TEMPLATE =
  "dag_id={{ ti.dag_id }}/run_id={{ ti.run_id }}/task_id={{ ti.task_id }}/" +
  "{% if ti.map_index >= 0 %}map_index={{ ti.map_index }}/{% endif %}attempt={{ try_number|default(ti.try_number) }}.log";

/**
 * Default before Airflow 2.3 (same config.yml, 2.0–2.2); logs of runs from then keep this shape, and the
 * folder after the task is the logical date (`ts`), which was the run's identity before run ids (2.2).
 */
export const AIRFLOW_LEGACY_LOG_TEMPLATE = "{{ ti.dag_id }}/{{ ti.task_id }}/{{ ts }}/{{ try_number }}.log";

type Field = "dag" | "task" | "run" | "map" | "try" | "ts";

/** A compiled template: a regex over the end of an absolute path, and what each capture group holds. */
export interface LogTemplate {
  source: string;
  pattern: RegExp;
  fields: (Field | null)[];
}

export class LogTemplateError extends Error {
  override name = "LogTemplateError";
}

/** Names a template may use, as Airflow's contexts name them (Jinja `ti.*`, format-style bare names). */
const FIELD_OF: Record<string, Field> = {
  "ti.dag_id": "dag",
  dag_id: "dag",
  "ti.task_id": "task",
  task_id: "task",
  "ti.run_id": "run",
  run_id: "run",
  "ti.map_index": "map",
  map_index: "map",
  try_number: "try",
  "ti.try_number": "try",
  ts: "ts",
  execution_date: "ts",
  logical_date: "ts",
};

const VALUE_PATTERN: Record<Field, string> = {
  dag: "([^/]+)",
  task: "([^/]+)",
  run: "([^/]+)",
  map: "(-?\\d+)",
  try: "(\\d+)",
  // A logical date as Airflow prints it (isoformat): keeps the legacy template from matching any
  // `a/b/c/1.log` a Python process happens to hold open.
  ts: "(\\d{4}-\\d\\d-\\d\\dT[^/]+)",
};

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Compiles a `log_filename_template`; throws {@link LogTemplateError} naming what it cannot read. */
export function compileLogTemplate(template: string): LogTemplate {
  const jinja = template.includes("{{") || template.includes("{%");
  const token = jinja ? /\{\{(.*?)\}\}|\{%(.*?)%\}/g : /\{([^{}]*)\}/g;
  const fields: (Field | null)[] = [];
  let regex = "";
  let at = 0;
  let open = 0;
  for (const match of template.matchAll(token)) {
    regex += escapeRegex(template.slice(at, match.index));
    at = match.index + match[0].length;
    if (jinja && match[2] !== undefined) {
      const tag = match[2].trim();
      if (/^if\s/.test(tag)) {
        regex += "(?:";
        open++;
      } else if (tag === "endif" && open > 0) {
        regex += ")?";
        open--;
      } else {
        throw new LogTemplateError(`unsupported tag {% ${tag} %} in "${template}"`);
      }
      continue;
    }
    // `{{ try_number|default(ti.try_number) }}`, `{dag_id!s:>10}`: the name before any filter or spec.
    const name = match[1]!.trim().split(/[|!:\s]/)[0]!;
    const field = FIELD_OF[name];
    if (field) {
      regex += VALUE_PATTERN[field];
      fields.push(field);
    } else {
      // Something else Airflow knows (data_interval_start, ti.hostname…): any one path segment's text.
      regex += "[^/]*";
    }
  }
  if (open > 0) throw new LogTemplateError(`{% if %} without {% endif %} in "${template}"`);
  regex += escapeRegex(template.slice(at));
  if (!fields.includes("dag") || !fields.includes("task")) {
    throw new LogTemplateError(
      `"${template}" names no dag_id and task_id, so a log file cannot tell its task`,
    );
  }
  return { source: template, pattern: new RegExp(`(?:^|/)${regex}$`), fields };
}

/** Reads a task key back from an absolute log path by one template; null when it is not such a log. */
export function matchLogPath(
  path: string,
  template: LogTemplate,
  source = "airflow-log",
): Attribution | null {
  const match = template.pattern.exec(path);
  if (!match) return null;
  const values: Partial<Record<Field, string>> = {};
  template.fields.forEach((field, i) => {
    const value = match[i + 1];
    if (field && value !== undefined && values[field] === undefined) values[field] = value;
  });
  if (!values.dag || !values.task) return null;
  return {
    orchestrator: "airflow",
    pipeline: values.dag,
    task: values.task,
    runId: values.run ?? values.ts ?? null,
    tryNumber: positiveInt(values.try),
    mapIndex: mapIndexOf(values.map),
    source,
  };
}

const compiled = new Map<string, LogTemplate | null>();

/** Compiles once per distinct text (templates come from config and from processes' environments). */
export function cachedLogTemplate(template: string): LogTemplate | null {
  let found = compiled.get(template);
  if (found === undefined) {
    try {
      found = compileLogTemplate(template);
    } catch {
      found = null;
    }
    // Bounded: a hostile environment could hand out endless distinct templates.
    if (compiled.size < 64) compiled.set(template, found);
  }
  return found;
}

export const DEFAULT_LOG_TEMPLATES: readonly LogTemplate[] = [
  compileLogTemplate(AIRFLOW_DEFAULT_LOG_TEMPLATE),
  compileLogTemplate(AIRFLOW_LEGACY_LOG_TEMPLATE),
];
