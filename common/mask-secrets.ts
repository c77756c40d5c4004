/**
 * Masking of secrets in what rightsize itself prints and logs: URL passwords (database, Redis, SMTP
 * URLs), values of secret-named settings and log fields. The collector's redaction of other programs'
 * command lines (collector/storage/redact.ts) builds on the same URL rule. Pure functions of strings.
 */

/** What a masked value becomes. */
export const REDACTED = "***";

/** Characters of a token: hex, base64 and base64url. */
const TOKEN_CHARACTERS = /^[A-Za-z0-9_\-+/=~]+$/;
/**
 * Prefixes of tokens that hosts tell users to put in a clone URL as its user: GitHub's (`ghp_`, `gho_`,
 * `ghu_`, `ghs_`, `ghr_`, `github_pat_`; "About authentication to GitHub", token formats) and GitLab's
 * personal access tokens (`glpat-`).
 */
const TOKEN_USER_PREFIX = /^(?:gh[pousr]_|github_pat_|glpat-)/;

/**
 * A URL's user part that is a token rather than a name (`https://TOKEN@github.com/…`, how classic GitHub
 * tokens are used with git, and `https://TOKEN:x-oauth-basic@…`): 16 or more token characters (letters,
 * digits, `_ - + / = ~`) that
 * - start with a known token prefix (`ghp_…`, `github_pat_…`, `glpat-…`), or
 * - are hexadecimal with a letter and a digit, or hexadecimal of 32+ characters whatever they hold (a
 *   classic GitHub token is 40 hex digits), or
 * - mix upper case, lower case and digits (base64, base62), or
 * - are 32 or more characters with a letter and a digit (Azure DevOps' 52-character lower-case tokens).
 * A name made of words and a number (`git`, `deploy`, `svc_airflow_worker01`, `jenkins-agent-0042`) is
 * none of these and is kept.
 */
export function isTokenShaped(user: string): boolean {
  if (user.length < 16 || !TOKEN_CHARACTERS.test(user)) return false;
  if (TOKEN_USER_PREFIX.test(user)) return true;
  const digit = /[0-9]/.test(user);
  if (/^[0-9a-f]+$/i.test(user)) return user.length >= 32 || (digit && /[a-f]/i.test(user));
  if (!digit) return false;
  return (/[a-z]/.test(user) && /[A-Z]/.test(user)) || user.length >= 32;
}

const SCHEME_SEPARATOR = /:\/\//g;
/** Where a URL's user part ends for certain: whitespace or a quote. */
const AUTHORITY_STOP = /[\s'"]/;

/**
 * `scheme://user:password@host` → `scheme://user:***@host`; `scheme://TOKEN@host` → `scheme://***@host`
 * and `scheme://TOKEN:password@host` → `scheme://***:***@host` ({@link isTokenShaped}), wherever URLs
 * appear in a text. Each URL's user part is read up to its first `@`, never past the next
 * `://`, so the scans of two URLs never overlap (linear time). A password may contain `/` (people write
 * them unencoded, against RFC 3986 §3.2.1); a user may not.
 */
export function maskUrlCredentials(text: string): string {
  const starts: number[] = [];
  SCHEME_SEPARATOR.lastIndex = 0;
  for (let match = SCHEME_SEPARATOR.exec(text); match !== null; match = SCHEME_SEPARATOR.exec(text)) {
    if (match.index > 0 && /[a-z0-9]/i.test(text[match.index - 1]!)) starts.push(match.index + 3);
  }
  if (starts.length === 0) return text;
  let out = "";
  let copied = 0;
  starts.forEach((start, index) => {
    const limit = starts[index + 1] ?? text.length;
    let at = -1;
    let colon = -1;
    for (let position = start; position < limit; position++) {
      const char = text[position]!;
      if (char === "@") {
        at = position;
        break;
      }
      if (AUTHORITY_STOP.test(char)) break;
      if (colon === -1 && (char === "/" || char === "?" || char === "#")) break;
      if (char === ":" && colon === -1) colon = position;
    }
    if (at === -1 || start < copied) return;
    if (colon !== -1) {
      // `https://TOKEN:x-oauth-basic@github.com`: the user can be the secret too.
      const user = text.slice(start, colon);
      const password = text.slice(colon + 1, at);
      const userIsToken = isTokenShaped(user);
      const passwordShown = password.length > 0 && password !== REDACTED;
      if (!userIsToken && !passwordShown) return;
      out += `${text.slice(copied, start)}${userIsToken ? REDACTED : user}:${passwordShown ? REDACTED : password}`;
      copied = at;
    } else if (isTokenShaped(text.slice(start, at))) {
      out += `${text.slice(copied, start)}${REDACTED}`;
      copied = at;
    }
  });
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * A value a user gave for a URL setting, for an error message: the user part of anything URL-like is
 * masked even when the value is malformed (`smtps//user:pw@host`, `smtp://user:p@ss@host`), since a bad
 * value is exactly when the URL rules above may not see it. Without `@` there is no user part.
 */
export function maskUrlValue(value: string): string {
  const at = value.lastIndexOf("@");
  if (at === -1) return maskUrlCredentials(value);
  // `scheme://` or a scheme missing its colon (`smtp//`); `user:pw@host` without a scheme is all user part.
  const scheme = /^[a-z][a-z0-9+.-]*:?\/\//i.exec(value)?.[0].length ?? 0;
  const userinfo = value.slice(scheme, at);
  const colon = userinfo.indexOf(":");
  if (colon !== -1) {
    const user = userinfo.slice(0, colon);
    return `${value.slice(0, scheme)}${isTokenShaped(user) ? REDACTED : user}:${REDACTED}${value.slice(at)}`;
  }
  return isTokenShaped(userinfo) ? `${value.slice(0, scheme)}${REDACTED}${value.slice(at)}` : value;
}

/** Names of settings, variables and log fields whose value is a secret as a whole. */
export const SECRET_FIELD =
  /(password|passwd|secret|token|apikey|api_key|credentials?|authorization|cookie)$/i;

/** Names whose value is a URL that may carry a password (`DATABASE_URL`, `email.smtpUrl`, `redisUrl`). */
export const URL_FIELD = /(url|uri|dsn)$/i;

/** A value for display under `name`: masked whole when the name is secret, its URL password when a URL. */
export function maskValue(name: string, value: unknown): unknown {
  if (value === null || value === undefined || value === "") return value;
  if (SECRET_FIELD.test(name.replace(/[^A-Za-z]/g, ""))) return REDACTED;
  if (typeof value === "string")
    return URL_FIELD.test(name) ? maskUrlValue(value) : maskUrlCredentials(value);
  return value;
}
