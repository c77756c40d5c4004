/**
 * `rightsize explain`'s output: one run's explanation (analyzer/explain.ts) as plain text for a terminal,
 * Markdown for a pull request or a job summary, or JSON for scripts. Pure. Every sentence holds names
 * from processes (task keys, run ids, commands, endpoints): escaped for where it goes (reports/escape.ts).
 */
import type { Explanation } from "../analyzer/explain.js";
import { UsageError } from "../common/errors.js";
import { taskKeyString } from "../common/task-key.js";
import { formatDuration } from "../common/units.js";
import { escapeMarkdown, escapeTextLine } from "./escape.js";

export const explanationFormats = ["text", "md", "json"] as const;
export type ExplanationFormat = (typeof explanationFormats)[number];

const resourceTitles = { cpu: "waiting for a CPU", disk: "blocked on disk" } as const;

/** The explanation's parts as headed groups of sentences, for the text and Markdown forms. */
function sections(explanation: Explanation): Array<{ title: string; lines: string[] }> {
  const { diagnosis } = explanation;
  const head = `${taskKeyString(explanation.task)}, run ${diagnosis.runId} (try ${diagnosis.tryNumber}) on ${diagnosis.hostId}, started ${diagnosis.startedAt}`;
  const parts = [{ title: head, lines: diagnosis.sentences }];
  for (const finding of explanation.neighbours) {
    parts.push({
      title: `Neighbours while ${resourceTitles[finding.resource]} (+${formatDuration(finding.extraWaitSeconds)} beyond the median run)`,
      lines:
        finding.sentences.length > 0
          ? finding.sentences
          : [
              "No other execution on this host overlapped the run: whatever competed with it is not a tracked task.",
            ],
    });
  }
  parts.push({ title: "Across the task's runs", lines: [explanation.inconsistency.sentence] });
  return parts;
}

export function renderExplanation(explanation: Explanation, format: ExplanationFormat): string {
  switch (format) {
    case "json":
      return `${JSON.stringify(explanation, null, 2)}\n`;
    case "md":
      return `${sections(explanation)
        .map(
          ({ title, lines }) =>
            `### ${escapeMarkdown(title)}\n\n${lines.map((line) => `- ${escapeMarkdown(line)}`).join("\n")}\n`,
        )
        .join("\n")}`;
    case "text":
      return `${sections(explanation)
        .map(
          ({ title, lines }) =>
            `${escapeTextLine(title)}\n${lines.map((line) => `  ${escapeTextLine(line)}`).join("\n")}\n`,
        )
        .join("\n")}`;
    default:
      throw new UsageError(
        `unknown format '${String(format)}': expected one of ${explanationFormats.join(", ")}`,
      );
  }
}
