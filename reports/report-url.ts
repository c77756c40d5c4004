/**
 * The address of a night's HTML report under `reports.baseUrl` (where `reports.outDir` is served), for
 * every output that links to it: the Slack message, the nightly email, the Markdown report and job summary.
 * One function, so every output links the same address.
 */

/**
 * The night's HTML report under `baseUrl`, or null without one (no link rather than a broken one). The
 * file name is percent-encoded as one path segment (`encodeURIComponent`): a `/`, `?`, `#`, `|`, `<`, `>`,
 * space or line break in it stays part of the name; what else an output gives a meaning to (`(` `)` in a
 * Markdown destination, `&` `'` in an HTML attribute) is left to that output's escaping (reports/escape.ts,
 * Handlebars for HTML).
 */
export function reportUrlOf(baseUrl: string | null | undefined, fileName: string): string | null {
  if (!baseUrl) return null;
  // WHATWG URL resolves `.` and `..` as dot segments (any other `%` is encoded): they would leave the folder.
  if (/^\.{0,2}$/.test(fileName)) {
    throw new Error(`'${fileName}' is not a report file name: cannot link it under ${baseUrl}`);
  }
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  return new URL(encodeURIComponent(fileName), base).toString();
}
