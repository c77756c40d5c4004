/**
 * Redaction of secrets in command lines and text, before anything is stored (execution_processes.argv,
 * process titles, log lines). Pure functions of strings.
 *
 * What counts as a secret:
 * - the value of a flag or KEY=VALUE pair whose name ends like a secret: password, passwd, pwd, pass,
 *   passphrase, secret, token, credential(s), auth, authorization, cookie, apikey, and "key" when it is
 *   the whole name or qualified as a secret one (api/access/secret/private/account/… key);
 * - program-specific short flags: `mysql -pSECRET`, `sshpass -p X`, `docker login -p X`, `redis-cli -a X`,
 *   `mongo -p X`, `curl -u user:X`;
 * - credentials in URLs (`scheme://user:X@host`), `Authorization:` headers and bearer tokens;
 * - well-known token shapes wherever they appear: AWS access key ids and secret keys, GitHub, GitLab,
 *   Slack, Stripe, npm, Google API keys and OAuth tokens, JWTs, PEM private keys.
 *
 * False positives are weighed against leaks: names are matched on their last word (`--max-key-length 5`,
 * `--token-file path`, `--sort-key ts` survive; `--api-key X` does not), and `-p` is a password only for
 * programs where it means one (for psql it is the port).
 */

/** What a redacted value becomes. */
export const REDACTED = "***";

/** Words that, as the last word of a name, make its value a secret. */
const SECRET_LAST_WORDS = new Set([
  "password",
  "passwd",
  "pwd",
  "pass",
  "passphrase",
  "passin",
  "passout",
  "secret",
  "token",
  "credential",
  "credentials",
  "auth",
  "authorization",
  "cookie",
  "apikey",
  "sig",
  "signature",
  "dsn",
]);

/** Endings of a name with its separators removed (`secretAccessKey`, `X-Api-Key`, `AccountKey`). */
const SECRET_COMPACT_ENDINGS =
  /(password|passwd|passphrase|secret|token|credentials?|apikey|accesskey|secretkey|privatekey|accountkey|signingkey|masterkey|encryptionkey|sessionkey|clientkey|licensekey|storagekey|authorization|storepass|keypass)$/;

/** A name whose last word is "key" is secret when the word before qualifies it as one, or stands alone. */
const SECRET_KEY_QUALIFIERS = new Set([
  "api",
  "access",
  "secret",
  "private",
  "ssh",
  "encryption",
  "master",
  "account",
  "storage",
  "auth",
  "signing",
  "client",
  "app",
  "application",
  "license",
  "service",
  "shared",
  "session",
  "gpg",
  "pgp",
  "crypt",
  "hmac",
  "aws",
  "s3",
]);

/** Names that end like a secret but are switches or pointers, never the secret itself. */
const NOT_SECRET_NAME = /^(no|ask|prompt|use|require|skip|with|without|enable|disable)[-_]/;

/** Splits a name into lower-case words on separators and camelCase humps. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** True when a flag or variable named `name` (dashes allowed, `--password`) holds a secret. */
export function isSecretName(name: string): boolean {
  const bare = name.replace(/^-+/, "");
  if (bare.length === 0 || NOT_SECRET_NAME.test(bare.toLowerCase())) return false;
  const parts = words(bare);
  const last = parts.at(-1);
  if (last === undefined) return false;
  if (SECRET_LAST_WORDS.has(last)) return true;
  // Azure's `fs.azure.account.key.ACCOUNT.blob.core.windows.net`: the account name follows the key.
  if (parts.some((part, index) => part === "account" && parts[index + 1] === "key")) return true;
  if (last === "key" || last === "keys") {
    const previous = parts.at(-2);
    return previous === undefined || SECRET_KEY_QUALIFIERS.has(previous);
  }
  return SECRET_COMPACT_ENDINGS.test(parts.join(""));
}

/** Programs whose short flag `-p` carries the password (attached or as the next word). */
const PASSWORD_P_ATTACHED = new Set([
  "mysql",
  "mysqldump",
  "mysqladmin",
  "mysqlimport",
  "mysqlcheck",
  "mysqlshow",
  "mysqlpump",
  "mariadb",
  "mariadb-dump",
  "mariadb-admin",
]);
/** Programs (and subcommands) where a short flag is followed by the password as the next word. */
const PASSWORD_NEXT_WORD: Record<string, Set<string>> = {
  sshpass: new Set(["-p"]),
  // `docker login -p X`, but `docker run -p 8080:80` is a port: only after `login`.
  "registry login": new Set(["-p"]),
  "redis-cli": new Set(["-a"]),
  mongo: new Set(["-p"]),
  mongosh: new Set(["-p"]),
  mongodump: new Set(["-p"]),
  mongorestore: new Set(["-p"]),
  mongoexport: new Set(["-p"]),
  mongoimport: new Set(["-p"]),
};
/** Programs with a `login` subcommand that takes `-p PASSWORD`. */
const REGISTRY_CLIENTS = new Set([
  "docker",
  "podman",
  "nerdctl",
  "buildah",
  "skopeo",
  "helm",
  "oras",
  "crane",
]);
/** HTTP clients, whose `-u`/`--user` value is `user:password` (elsewhere `-u 1000:1000` is a uid:gid). */
const HTTP_CLIENTS = new Set(["curl", "wget", "http", "https", "xh", "ab", "siege", "hey"]);
/** Flags whose value is `user:password`; `--proxy-user` in any program, the others in HTTP clients. */
const USER_PASSWORD_FLAGS = new Set(["-u", "--user", "--proxy-user", "-U", "--basic-auth"]);

const QUOTES = /^["'`]+|["'`]+$/g;

function programOf(token: string): string {
  return (token.replace(QUOTES, "").split("/").pop() ?? "").toLowerCase();
}

/** Keeps a token's leading and trailing quotes around a replacement. */
function requote(original: string, replacement: string): string {
  const lead = /^["'`]*/.exec(original)?.[0] ?? "";
  const trail = /["'`]*$/.exec(original.slice(lead.length))?.[0] ?? "";
  return `${lead}${replacement}${trail}`;
}

/**
 * Redacts one command line given as words. The word-level rules (a secret flag's next word, KEY=VALUE
 * words, program-specific flags) run first, then every word goes through {@link redactText} for secrets
 * inside it (a URL, a `bash -c "…"` script, a JSON blob).
 */
export function redactArgv(argv: string[]): string[] {
  return redactWords(argv).map((word) => redactText(word));
}

function redactWords(argv: string[]): string[] {
  const out: string[] = [];
  let program = "";
  let nextIs: "secret" | "user-password" | null = null;
  for (const token of argv) {
    const bare = token.replace(QUOTES, "");
    if (nextIs !== null) {
      // A value may itself start with one dash (`-x9Secret`); two dashes is the next flag, the value was
      // omitted (prompted for).
      if (!bare.startsWith("--")) {
        const kind = nextIs;
        nextIs = null;
        if (kind === "secret") {
          out.push(requote(token, REDACTED));
        } else {
          const colon = bare.indexOf(":");
          out.push(colon === -1 ? token : requote(token, `${bare.slice(0, colon + 1)}${REDACTED}`));
        }
        continue;
      }
      nextIs = null;
    }
    const base = programOf(token);
    if (
      PASSWORD_P_ATTACHED.has(base) ||
      base in PASSWORD_NEXT_WORD ||
      HTTP_CLIENTS.has(base) ||
      REGISTRY_CLIENTS.has(base)
    ) {
      program = base;
    } else if (base === "login" && REGISTRY_CLIENTS.has(program)) program = "registry login";

    // --name=value, -Dname=value
    const flagWithValue = /^(--?(?:D(?=[a-z]))?)([A-Za-z][\w.:-]*)=([\s\S]*)$/.exec(bare);
    if (flagWithValue && flagWithValue[3] !== "" && bare.startsWith("-")) {
      const [, prefix, name, value] = flagWithValue;
      if (isSecretName(name!)) {
        out.push(requote(token, `${prefix}${name}=${REDACTED}`));
        continue;
      }
      const flag = `${prefix}${name}`;
      if (
        USER_PASSWORD_FLAGS.has(flag) &&
        (flag.startsWith("--proxy") || HTTP_CLIENTS.has(program)) &&
        value!.includes(":")
      ) {
        out.push(requote(token, `${prefix}${name}=${value!.slice(0, value!.indexOf(":") + 1)}${REDACTED}`));
        continue;
      }
    }
    // NAME=value (environment prefixes, spark.hadoop.fs.s3a.secret.key=…, docker -e)
    // A word with spaces after the = is a script (`sh -c "PGPASSWORD=x pg_dump …"`): left to redactText.
    const assignment = /^([A-Za-z_][\w.-]*)=(\S+)$/.exec(bare);
    if (assignment && isSecretName(assignment[1]!)) {
      out.push(requote(token, `${assignment[1]}=${REDACTED}`));
      continue;
    }
    // mysql -pSECRET
    if (PASSWORD_P_ATTACHED.has(program) && /^-p.+/.test(bare)) {
      out.push(requote(token, `-p${REDACTED}`));
      continue;
    }
    // A bare flag: its value is the next word.
    if (/^--?[A-Za-z][\w.-]*$/.test(bare)) {
      if (bare.startsWith("--") && isSecretName(bare)) nextIs = "secret";
      else if (PASSWORD_NEXT_WORD[program]?.has(bare)) nextIs = "secret";
      else if (USER_PASSWORD_FLAGS.has(bare) && (bare.startsWith("--proxy") || HTTP_CLIENTS.has(program))) {
        nextIs = "user-password";
      } else if (/^-[A-Za-z]/.test(bare) && !bare.startsWith("--") && bare.length > 2 && isSecretName(bare)) {
        nextIs = "secret"; // -password, -passin (openssl, java tools)
      }
    }
    out.push(token);
  }
  return out;
}

/** Shapes of tokens that are secrets wherever they appear. */
const TOKEN_PATTERNS: RegExp[] = [
  // PEM private keys, also with \n escaped inside JSON strings.
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  // AWS access key ids (IAM user, temporary STS, role, group…).
  /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/g,
  // GitHub tokens: personal, OAuth, user-to-server, server-to-server, refresh; fine-grained PATs.
  /\bgh[pousr]_[A-Za-z0-9]{30,}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{20,}\b/g,
  // GitLab personal/project tokens.
  /\bglpat-[A-Za-z0-9_-]{20,}\b/g,
  // Slack bot, user, app, refresh, legacy tokens.
  /\bxox[abposre]-[A-Za-z0-9-]{10,}/g,
  // Stripe secret and restricted keys; OpenAI-style keys.
  /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}\b/g,
  /\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}\b/g,
  // npm tokens.
  /\bnpm_[A-Za-z0-9]{36}\b/g,
  // Google API keys and OAuth access tokens.
  /\bAIza[0-9A-Za-z_-]{35}\b/g,
  /\bya29\.[0-9A-Za-z_-]{20,}/g,
  // JWTs: base64url header and payload (both start with `{"` → "eyJ"), optional signature.
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
];

/** Something in the text that some rule of {@link redactText} could match (see its fast path). */
const MAYBE_SECRET =
  /[=:@\s]|A(?:KIA|SIA|GPA|IDA|ROA|NPA|NVA|IPA)|gh[pousr]_|github_pat_|glpat-|xox[abposre]-|[sr]k_(?:live|test)_|sk-|npm_|AIza|ya29\.|eyJ/;

/**
 * An AWS secret access key is 40 characters of base64; a run of exactly 40 such characters with upper
 * case, lower case and a digit in it (a git SHA-1 is lower-case hex and survives).
 */
const AWS_SECRET_SHAPE = /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;

/** `scheme://user:password@host` → `scheme://user:***@host`. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@'"]*:)([^\s@'"]+)(@)/gi;

/** `Authorization: Bearer X`, `Authorization=Basic X`, `Proxy-Authorization: X`. */
const AUTHORIZATION_HEADER =
  /\b((?:proxy-)?authorization\s*[:=]\s*)(?:(bearer|basic|token|digest|negotiate)\s+)?([^\s'"]+)/gi;
/** A bearer token outside a header (`--header "Bearer X"`, log lines). */
const BEARER = /\b(Bearer\s+)([A-Za-z0-9._~+/-]{8,}=*)/g;
/** "name": "value" in JSON (GCP service-account keys, inline configs). */
const JSON_PAIR = /("([^"\\]{1,100})"\s*:\s*)"((?:[^"\\]|\\.)*)"/g;
/**
 * The start of name=value or name: value in free text (env dumps, query strings, connection strings,
 * headers); the value is measured separately so that a pair whose name is not secret does not swallow
 * the next one (`--env=PASSWORD=x`, `?a=1&token=x`). `scheme://` is not a pair.
 */
const TEXT_PAIR_NAME = /(^|[\s;,&?'"{(=/-])([A-Za-z_][\w.-]*)(=|:(?!\/\/)[ \t]*)/g;
/** A pair's value: a quoted string, or up to the next separator. */
const TEXT_PAIR_VALUE = /"[^"]*"|'[^']*'|[^\s&;,'"]+/y;

function redactPairs(text: string): string {
  let out = "";
  let copied = 0;
  TEXT_PAIR_NAME.lastIndex = 0;
  for (let match = TEXT_PAIR_NAME.exec(text); match !== null; match = TEXT_PAIR_NAME.exec(text)) {
    const name = match[2]!;
    const valueStart = match.index + match[0].length;
    // Authorization headers are handled with their scheme word by AUTHORIZATION_HEADER.
    if (!isSecretName(name) || /authorization$/i.test(name)) {
      // Step back onto the separator so a pair right after (`=PASSWORD=x`) is still seen.
      TEXT_PAIR_NAME.lastIndex = valueStart - 1;
      continue;
    }
    TEXT_PAIR_VALUE.lastIndex = valueStart;
    const value = TEXT_PAIR_VALUE.exec(text)?.[0];
    // Already redacted (a URL's `user:***@host`, where the user name reads like a secret).
    if (value === undefined || value === REDACTED || value.startsWith(`${REDACTED}@`)) continue;
    const quote = /^["']/.test(value) ? value[0] : "";
    out += `${text.slice(copied, valueStart)}${quote}${REDACTED}${quote}`;
    copied = valueStart + value.length;
    TEXT_PAIR_NAME.lastIndex = copied;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * Redacts secrets in free text: a shell command string, a process title, a log line, a JSON blob.
 * Shell-like words are also run through the command-line rules of {@link redactArgv}.
 */
export function redactText(text: string): string {
  // Fast path for the common word (`python`, `--pool`, `etl_daily`): nothing any rule below could match.
  // Shorter than the 40-character AWS secret shape, no separator a pair, URL or header needs, no token
  // prefix. The collector redacts every argv it sees, so this is most of the calls.
  if (text.length < 40 && !MAYBE_SECRET.test(text)) return text;
  let out = text;
  for (const pattern of TOKEN_PATTERNS) out = out.replace(pattern, REDACTED);
  out = out.replace(AWS_SECRET_SHAPE, (match) =>
    /[A-Z]/.test(match) && /[a-z]/.test(match) && /[0-9]/.test(match) ? REDACTED : match,
  );
  out = out.replace(
    URL_CREDENTIALS,
    (_, before: string, _password: string, at: string) => `${before}${REDACTED}${at}`,
  );
  out = out.replace(AUTHORIZATION_HEADER, (_, header: string, scheme: string | undefined) =>
    scheme ? `${header}${scheme} ${REDACTED}` : `${header}${REDACTED}`,
  );
  out = out.replace(BEARER, (_, bearer: string) => `${bearer}${REDACTED}`);
  out = out.replace(JSON_PAIR, (match, head: string, name: string, value: string) =>
    isSecretName(name) && value !== REDACTED && value.length > 0 ? `${head}"${REDACTED}"` : match,
  );
  out = redactPairs(out);
  // Words of a shell command inside the text (`bash -c "mysql -pX"`, `sshpass -p X ssh …`).
  if (/\s/.test(out)) {
    const parts = out.split(/(\s+)/);
    const wordIndexes: number[] = [];
    const wordsOnly: string[] = [];
    parts.forEach((part, index) => {
      if (part.length > 0 && !/^\s+$/.test(part)) {
        wordIndexes.push(index);
        wordsOnly.push(part);
      }
    });
    const redacted = redactWords(wordsOnly);
    redacted.forEach((word, position) => {
      parts[wordIndexes[position]!] = word;
    });
    out = parts.join("");
  } else {
    out = redactWords([out])[0] ?? out;
  }
  return out;
}
