/**
 * A small MIME reader for tests that receive the report email on a real SMTP server (smtp-server): headers
 * with RFC 2047 words decoded, multipart bodies split, base64 and quoted-printable bodies decoded. Enough
 * to check the structure nodemailer produces, strict about what it checks.
 */

export interface MimePart {
  headers: Map<string, string>;
  body: string;
  parts: MimePart[];
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?Q?…?=` / `?B?`) in a header. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?([^?]+)\?([QB])\?([^?]*)\?=/gi, (_, _charset: string, encoding: string, text: string) =>
      encoding.toUpperCase() === "B"
        ? Buffer.from(text, "base64").toString("utf8")
        : Buffer.from(
            text
              .replace(/_/g, " ")
              .replace(/=([0-9A-F]{2})/gi, (_m, hex: string) =>
                String.fromCharCode(Number.parseInt(hex, 16)),
              ),
            "latin1",
          ).toString("utf8"),
    );
}

function decodeBody(body: string, encoding: string | undefined): string {
  if (encoding === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  if (encoding === "quoted-printable") {
    const bytes = body
      .replace(/=\r?\n/g, "")
      .replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    return Buffer.from(bytes, "latin1").toString("utf8");
  }
  return body;
}

/** A small MIME reader: enough to check the structure nodemailer produces, strict about what it checks. */
export function parseMime(raw: string): MimePart {
  const split = raw.indexOf("\r\n\r\n");
  if (split < 0) throw new Error("MIME part without a blank line after the headers");
  const headers = new Map<string, string>();
  for (const line of raw
    .slice(0, split)
    .replace(/\r\n[ \t]+/g, " ")
    .split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) throw new Error(`malformed header line: ${line}`);
    headers.set(line.slice(0, colon).trim().toLowerCase(), decodeWords(line.slice(colon + 1).trim()));
  }
  const rawBody = raw.slice(split + 4);
  const type = headers.get("content-type") ?? "text/plain";
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (type.startsWith("multipart/")) {
    if (!boundary) throw new Error(`multipart without boundary: ${type}`);
    const chunks = rawBody.split(`--${boundary}`);
    if (!chunks.at(-1)?.startsWith("--")) throw new Error(`multipart ${boundary} is not closed`);
    const parts = chunks
      .slice(1, -1)
      .map((chunk) => parseMime(chunk.replace(/^\r\n/, "").replace(/\r\n$/, "")));
    return { headers, body: "", parts };
  }
  return {
    headers,
    body: decodeBody(rawBody, headers.get("content-transfer-encoding")?.toLowerCase()),
    parts: [],
  };
}

export function mediaType(part: MimePart): string {
  return (part.headers.get("content-type") ?? "text/plain").split(";")[0]!.trim().toLowerCase();
}
