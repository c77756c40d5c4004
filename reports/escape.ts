/**
 * Escaping of names for every output rightsize posts: Markdown (report, job summary, pull-request body),
 * GitHub workflow commands, and plain text lines on a terminal or CI log. Task, pipeline, file and command
 * names come from processes and repositories anyone can name: in these outputs a name is always text —
 * never a link, image, HTML element, @mention, #reference, table cell break or workflow command. The one
 * module every renderer uses for it (HTML goes through Handlebars' own escaping).
 */

/** U+200D ZERO WIDTH JOINER: invisible, and not a character GitHub's mention or reference rules accept. */
const JOINER = "\u200d";

/** Line breaks Markdown, terminals and GitHub's log all honour, and other control characters. */
const LINE_BREAK = /\r\n|[\r\n\u0085\u2028\u2029]/g;
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

/**
 * Text for a GitHub-flavored Markdown paragraph or table cell, shown as written:
 * - one line (a line break would end the table row) and no control characters;
 * - CommonMark's ASCII punctuation with a meaning here backslash-escaped (CommonMark 0.31 §2.4: any ASCII
 *   punctuation may be escaped): emphasis `* _ ~`, code `` ` ``, links and images `[ ] ( ) !`, table `|`,
 *   headings `#`;
 * - `<`, `>` and `&` as character references, so no HTML element or entity is formed;
 * - GFM's literal autolinks (`https://…`, `www.…`, `user@host.tld`; GFM spec §6.9) and GitHub's @mentions
 *   and #references (matched on the rendered text, so a backslash does not stop them) broken by a zero
 *   width joiner after `@`, `#`, `://` and `www`.
 */
export function escapeMarkdown(text: unknown): string {
  return String(text ?? "")
    .replace(LINE_BREAK, " ")
    .replace(CONTROL, "")
    .replace(/[\\`*_[\]()|~!#]/g, (char) => `\\${char}`)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[@#]/g, (char) => `${char}${JOINER}`)
    .replace(/:\/\//g, `:${JOINER}//`)
    .replace(/\b(www)\./gi, `$1${JOINER}.`);
}

/**
 * Whether a URL may become a link in a report: http(s) and nothing that ends it (white space), so no
 * `javascript:` or `data:` address is ever clickable, whatever an option or a caller passes.
 */
export function isWebUrl(url: string): boolean {
  return /^https?:\/\/[^\s]+$/i.test(url);
}

/**
 * A Markdown link to a URL rightsize was configured with (the report's address), never to a name: only
 * http(s) URLs, with the characters that could end a link destination percent-encoded; anything else is
 * shown as escaped text.
 */
export function markdownLink(label: string, url: string): string {
  if (!isWebUrl(url)) return escapeMarkdown(url);
  const destination = url.replace(
    /[()<>\\`|\s]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
  return `[${escapeMarkdown(label)}](${destination})`;
}

/**
 * A workflow command's data (the message after `::`), escaped as GitHub's toolkit does: `%` first, then
 * CR and LF (actions/toolkit packages/core/src/command.ts, `escapeData`).
 */
export function escapeWorkflowData(text: unknown): string {
  return String(text ?? "")
    .replace(/%/g, "%25")
    .replace(/\r/g, "%0D")
    .replace(/\n/g, "%0A");
}

/**
 * A workflow command's property value (`file=…,title=…`): the data escapes plus `:` and `,`, which end a
 * property (actions/toolkit packages/core/src/command.ts, `escapeProperty`).
 */
export function escapeWorkflowProperty(text: unknown): string {
  return escapeWorkflowData(text).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

/**
 * A name on a plain text line (terminal, CI log): line breaks and control characters shown as escapes
 * (`\n`, `\x1b`), so a name can neither start a line of its own — where `::error::…` would be a workflow
 * command on GitHub's runner — nor send terminal escape sequences.
 */
export function escapeTextLine(text: unknown): string {
  return String(text ?? "")
    .replace(/\r/g, "\\r")
    .replace(/\n/g, "\\n")
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, (char) =>
      char.charCodeAt(0) <= 0xff
        ? `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`
        : `\\u${char.charCodeAt(0).toString(16)}`,
    );
}
