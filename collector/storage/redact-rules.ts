/**
 * What collector/storage/redact.ts treats as a secret, as data: the words that make a name secret, the programs
 * whose flags and positional words carry passwords, and the ordered table of text rules. Adding a rule is
 * adding a row here; collector/storage/redact.ts is the engine that applies them (and documents what they cover).
 *
 * Every pattern must run in time linear in the text: no pattern may restart a long scan at every
 * position of a run (collector/storage/redact.test.ts feeds 1 MB adversarial arguments to every rule). A prefix
 * that can occur inside a run of the token's own characters is anchored with a look-behind on that
 * alphabet (not `\b`), so a failed match is never retried from every position of the same run.
 */

import { isTokenShaped, maskUrlCredentials, REDACTED } from "../../common/mask-secrets.js";

// ---- Names -------------------------------------------------------------------------------------------

/** Words that, as the last word of a name, make its value a secret. */
export const SECRET_LAST_WORDS = new Set([
  "password",
  "passwd",
  "pwd",
  "pw",
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
export const SECRET_COMPACT_ENDINGS =
  /(password|passwd|passphrase|secret|token|credentials?|apikey|accesskey|secretkey|privatekey|accountkey|signingkey|masterkey|encryptionkey|sessionkey|clientkey|licensekey|storagekey|authorization|storepass|keypass)$/;

/** A name whose last word is "key" is secret when the word before qualifies it as one, or stands alone. */
export const SECRET_KEY_QUALIFIERS = new Set([
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

/** Words of a Hadoop-Azure per-account setting that make it a secret (not `auth.type`, `oauth.provider`). */
export const AZURE_SECRET_PARTS = new Set([
  "secret",
  "password",
  "token",
  "sas",
  "credential",
  "credentials",
]);

/** Every secret name contains one of these (a cheap first test: most names are not secrets). */
export const SECRET_HINT = /pass|pw|pwd|secret|token|cred|auth|cookie|key|sig|dsn|sas/i;

/** Names that end like a secret but are switches or pointers, never the secret itself. */
export const NOT_SECRET_NAME = /^(no|ask|prompt|use|require|skip|with|without|enable|disable)[-_]/;

// ---- Programs and their words ------------------------------------------------------------------------

/** Programs whose short flag `-p` carries the password attached (`-pSECRET`; a bare `-p` prompts). */
export const PASSWORD_P_ATTACHED = new Set([
  "mysql",
  "mysqldump",
  "mysqladmin",
  "mysqlimport",
  "mysqlcheck",
  "mysqlshow",
  "mysqlpump",
  "mysqlsh",
  "mariadb",
  "mariadb-dump",
  "mariadb-admin",
]);
/** Programs whose short flag `-P` carries the password, attached or as the next word (SQL Server tools). */
export const PASSWORD_CAPITAL_P = new Set(["sqlcmd", "bcp", "osql", "isql"]);
/** Programs (and subcommands) where a short flag is followed by the password as the next word. */
export const PASSWORD_NEXT_WORD: Record<string, Set<string>> = {
  sshpass: new Set(["-p"]),
  // `docker login -p X`, but `docker run -p 8080:80` is a port: only after `login`.
  "registry login": new Set(["-p"]),
  // `az login --service-principal -u APP -p SECRET`; elsewhere in az, `-p` is not a password.
  "az login": new Set(["-p"]),
  // `twine upload -u __token__ -p pypi-…`
  twine: new Set(["-p"]),
  // `gh secret set NAME -b VALUE`
  "gh secret": new Set(["-b", "--body"]),
  "redis-cli": new Set(["-a"]),
  mongo: new Set(["-p"]),
  mongosh: new Set(["-p"]),
  mongodump: new Set(["-p"]),
  mongorestore: new Set(["-p"]),
  mongoexport: new Set(["-p"]),
  mongoimport: new Set(["-p"]),
  sqlcmd: new Set(["-P"]),
  bcp: new Set(["-P"]),
  osql: new Set(["-P"]),
  isql: new Set(["-P"]),
};
/** Programs with a `login` subcommand that takes `-p PASSWORD`. */
export const REGISTRY_CLIENTS = new Set([
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
export const HTTP_CLIENTS = new Set(["curl", "wget", "http", "https", "xh", "ab", "siege", "hey"]);
/** Flags whose value is `user:password`; `--proxy-user` in any program, the others in HTTP clients. */
export const USER_PASSWORD_FLAGS = new Set(["-u", "--user", "--proxy-user", "-U", "--basic-auth"]);
/** Samba clients: `-U user%password` (smbclient(1), "-U|--user=[DOMAIN\]USERNAME[%PASSWORD]"). */
export const SAMBA_CLIENTS = new Set(["smbclient", "rpcclient", "smbcacls", "smbget", "smbtree"]);
/** FTP clients whose `-u user,password` joins the two with a comma (lftp(1)). */
export const COMMA_PASSWORD_CLIENTS = new Set(["lftp"]);
/** Oracle tools whose first argument may be `user/password[@connect]` (SQL*Plus "logon" syntax). */
export const ORACLE_LOGON = new Set(["sqlplus", "rman", "expdp", "impdp", "sqlldr", "dgmgrl"]);

/**
 * Positional words that are secrets: the word at `position` (counted from 0 among the program's
 * positional words) when the positionals so far start with `after`, unless it matches `unless`.
 */
export interface PositionalSecret {
  name: string;
  program: string;
  after: readonly string[];
  position: number;
  unless?: RegExp;
}

export const POSITIONAL_SECRETS: readonly PositionalSecret[] = [
  // `vault login TOKEN` (vault/command/login.go: the token is the first argument; `-` reads stdin).
  { name: "vault-login-token", program: "vault", after: ["login"], position: 1, unless: /^-$|=/ },
  // `mc alias set NAME URL ACCESS SECRET`, `mc config host add NAME URL ACCESS SECRET` (minio/mc).
  { name: "minio-alias-secret", program: "mc", after: ["alias", "set"], position: 5 },
  { name: "minio-host-secret", program: "mc", after: ["config", "host", "add"], position: 6 },
];

/** A positional word after these (in `aws configure set`, `npm config set`, `airflow variables set`…). */
export const SETTING_VERBS = new Set(["set", "config", "--global", "--local", "--system", "--worktree"]);

/** Programs whose state the word rules follow. */
export const KNOWN_PROGRAMS = new Set([
  ...PASSWORD_P_ATTACHED,
  ...PASSWORD_CAPITAL_P,
  ...Object.keys(PASSWORD_NEXT_WORD),
  ...REGISTRY_CLIENTS,
  ...HTTP_CLIENTS,
  ...SAMBA_CLIENTS,
  ...COMMA_PASSWORD_CLIENTS,
  ...ORACLE_LOGON,
  ...POSITIONAL_SECRETS.map((rule) => rule.program),
  "htpasswd",
  "az",
  "gh",
  "aws",
  "npm",
  "yarn",
  "pnpm",
  "git",
  "airflow",
]);

/** A key flag's value that names a file holding the key, by its extension (PEM, DER, PKCS#12, JKS, JSON). */
export const KEY_FILE = /^[\w./~-]*\.(?:pem|key|crt|cer|der|p8|p12|pfx|jks|json|pub|asc|gpg|ppk)$/i;

// ---- Text rules --------------------------------------------------------------------------------------

/** Replaces a value, keeping its quotes (`"x"` → `"***"`, `\'x\'` → `\'***\'`, `x` → `***`). */
export function redactedValue(value: string): string {
  const quote = /^\\?["']/.exec(value)?.[0] ?? "";
  if (quote === "" || value.length < quote.length * 2) return REDACTED;
  return `${quote}${REDACTED}${value.endsWith(quote) ? quote : ""}`;
}

/**
 * One rule of the text table, by how the engine applies it:
 * - `pattern` + `replace`: `text.replace(pattern, replace)` (a global pattern; `replace` as
 *   String.prototype.replace takes it);
 * - `span`: from each `begin` to the next `end` (or the end of the text) becomes the mark;
 * - `quotedKey`: `pattern` finds a quoted key and its separator; when group `nameGroup` is a secret name,
 *   the value after it (a quoted string, else up to the next separator of a literal) becomes the mark.
 *   `valueGroup`, when set, is a group at the end of the match that already belongs to the value;
 * - `pairs`: name=value and name: value in free text, the name a whole run of `name`, the value `value`
 *   (sticky); names matching `except` are left to another rule;
 * - `redact`: a function of the text.
 */
export type TextRule = { name: string } & (
  | { pattern: RegExp; replace: string | ((match: string, ...groups: string[]) => string) }
  | { span: { begin: RegExp; end: RegExp } }
  | { quotedKey: { pattern: RegExp; nameGroup: number; valueGroup?: number } }
  | { pairs: { name: RegExp; value: RegExp; except: RegExp } }
  | { redact: (text: string) => string }
);

/** The whole match is the secret. */
const whole = (name: string, pattern: RegExp): TextRule => ({ name, pattern, replace: REDACTED });
/** Group 1 is kept, the rest of the match is the secret. */
const afterFirstGroup = (name: string, pattern: RegExp): TextRule => ({
  name,
  pattern,
  replace: (_match, kept) => `${kept}${REDACTED}`,
});

/**
 * PEM private keys (also with `\n` escaped inside JSON strings); an unterminated one runs to the end.
 * Applied before the word rules as well: `KEY=-----BEGIN … PRIVATE KEY-----` would otherwise lose only
 * its first word to the KEY=VALUE rule, and the key's body would no longer look like PEM.
 */
export const PEM_PRIVATE_KEY: TextRule = {
  name: "pem-private-key",
  span: {
    begin: /-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----/g,
    end: /-----END [A-Z ]{0,40}PRIVATE KEY-----/g,
  },
};

/**
 * The text rules, applied in this order after the command-line word rules. Order matters where rules
 * overlap: token shapes before the name=value pairs that would otherwise keep part of them, headers with
 * their scheme word before the pairs.
 */
export const TEXT_RULES: readonly TextRule[] = [
  PEM_PRIVATE_KEY,
  // AWS access key ids (IAM user, temporary STS, role, group…).
  whole("aws-access-key-id", /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/g),
  // GitHub tokens: personal, OAuth, user-to-server, server-to-server, refresh; fine-grained PATs.
  whole("github-token", /\bgh[pousr]_[A-Za-z0-9]{30,}\b/g),
  whole("github-fine-grained-token", /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}/g),
  // GitLab personal/project tokens.
  whole("gitlab-token", /(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}/g),
  // Slack bot, user, app, refresh, legacy tokens.
  whole("slack-token", /(?<![A-Za-z0-9-])xox[abposre]-[A-Za-z0-9-]{10,}/g),
  // Stripe secret and restricted keys; OpenAI-style keys.
  whole("stripe-key", /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}\b/g),
  whole("openai-key", /(?<![A-Za-z0-9_-])sk-(?:proj-)?[A-Za-z0-9_-]{20,}/g),
  // npm tokens.
  whole("npm-token", /\bnpm_[A-Za-z0-9]{36}\b/g),
  // PyPI API tokens: "pypi-" and a macaroon, whose base64 starts "AgE" (warehouse/macaroons).
  whole("pypi-token", /(?<![A-Za-z0-9_-])pypi-AgE[A-Za-z0-9_-]{20,}/g),
  // HashiCorp Vault service, batch and recovery tokens (vault/helper/tokens: "hvs.", "hvb.", "hvr.").
  whole("vault-token", /(?<![A-Za-z0-9_.-])hv[sbr]\.[A-Za-z0-9_-]{20,}/g),
  // Google API keys and OAuth access tokens.
  whole("google-api-key", /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g),
  whole("google-oauth-token", /(?<![A-Za-z0-9_.-])ya29\.[0-9A-Za-z_-]{20,}/g),
  // JWTs: base64url header and payload (both start with `{"` → "eyJ"), optional signature.
  whole("jwt", /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g),
  // An AWS secret access key is 40 characters of base64; a run of exactly 40 such characters with upper
  // case, lower case and a digit in it (a git SHA-1 is lower-case hex and survives). Whole runs are
  // matched, so a long run is looked at once.
  {
    name: "aws-secret-access-key",
    pattern: /[A-Za-z0-9/+=]+/g,
    replace: (run) =>
      run.length === 40 && !run.includes("=") && /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run)
        ? REDACTED
        : run,
  },
  // Chat webhook URLs, whose path is the credential (Slack, Discord, Microsoft Teams; Google Chat's are
  // caught by their `key=`/`token=` pairs).
  afterFirstGroup(
    "chat-webhook",
    /((?:hooks\.slack\.com\/(?:services|workflows|triggers)|(?:discord|discordapp)\.com\/api\/(?:v\d+\/)?webhooks|webhook\.office\.com\/webhookb2|outlook\.office(?:365)?\.com\/webhook)\/)[^\s'"?#&]+/gi,
  ),
  // `scheme://user:X@host`, and a token used as the user, `https://TOKEN@host`, `https://TOKEN:X@host`
  // (isTokenShaped: hex, base64 or a known prefix; `git@`, `svc_airflow_worker01@` are names and stay).
  { name: "url-credentials", redact: maskUrlCredentials },
  // A token used as the user of a scheme-less address (`TOKEN@github.com/org/repo`): 32+ characters.
  {
    name: "bare-token-user",
    pattern: /(?<![A-Za-z0-9_\-+/=~.])[A-Za-z0-9_\-+/=~]{32,}(?=@[A-Za-z0-9])/g,
    replace: (user) => (isTokenShaped(user) ? REDACTED : user),
  },
  // `Authorization: Bearer X`, `Authorization=Basic X`, `Proxy-Authorization: X`.
  {
    name: "authorization-header",
    pattern:
      /\b((?:proxy-)?authorization[ \t]*[:=][ \t]*)(?:(bearer|basic|token|digest|negotiate)[ \t]+)?([^\s'"]+)/gi,
    replace: (_match, header, scheme: string | undefined) =>
      scheme ? `${header}${scheme} ${REDACTED}` : `${header}${REDACTED}`,
  },
  // `Cookie: a=1; b=2` and `Set-Cookie: …`: the whole header value, up to the end of the line or quote.
  afterFirstGroup("cookie-header", /\b((?:set-)?cookie[ \t]*:[ \t]*)[^'"\r\n]+/gi),
  // A bearer token outside a header (`--header "Bearer X"`, log lines).
  afterFirstGroup("bearer-token", /\b(Bearer\s+)([A-Za-z0-9._~+/-]{8,}=*)/g),
  // SQL: `PASSWORD 'x'` (PostgreSQL CREATE/ALTER ROLE), `IDENTIFIED BY 'x'` (MySQL) or `IDENTIFIED BY x`
  // (Oracle).
  {
    name: "sql-password",
    pattern:
      /\b((?:password|identified[ \t]+by)[ \t]+)(?:[EeNn]?'(?:[^']|'')*'|"[^"]*"|\$\$[^$]*\$\$|(?<=by[ \t]+)[^\s;'"]+)/gi,
    replace: (match, head) => {
      const value = match.slice(head.length);
      return value.replace(/^[EeNn]?['"$]+|['"$]+$/g, "") === REDACTED
        ? match
        : `${head}${redactedValue(value)}`;
    },
  },
  // `os.environ['NAME'] = 'value'`, `os.environ.setdefault('NAME', 'value')`, `os.putenv('NAME', 'value')`.
  {
    name: "python-environ-assignment",
    quotedKey: {
      pattern:
        /(\b(?:environ[ \t]*\[[ \t]*|environ\.setdefault\([ \t]*|putenv\([ \t]*)(\\?["'])([A-Za-z_][\w.-]{0,99})\2[ \t]*(?:\][ \t]*=|,)[ \t]*)(\\?["'])/g,
      nameGroup: 3,
      valueGroup: 4,
    },
  },
  // A quoted key in a JSON, Python or YAML literal: `"password": …`, `'password': …`, `\"password\": …`
  // (JSON inside a shell string).
  {
    name: "quoted-secret-key",
    quotedKey: { pattern: /(\\?["'])([A-Za-z_][\w.-]{0,99})\1[ \t]*[:=][ \t]*/g, nameGroup: 2 },
  },
  // name=value or name: value in free text (env dumps, query strings, connection strings, headers).
  // Names are whole runs of name characters, so a long run is read once. The value is a quoted string or
  // runs up to the next separator, measured apart so that a pair whose name is not secret does not
  // swallow the next one (`--env=PASSWORD=x`, `?a=1&token=x`). Authorization headers are the rule above's.
  {
    name: "secret-pairs",
    pairs: { name: /[A-Za-z_][\w.-]*/g, value: /"[^"]*"|'[^']*'|[^\s&;,'"]+/y, except: /authorization$/i },
  },
];

/**
 * Something in the text that some text rule could match: text without any of these, shorter than the
 * 40-character AWS secret shape, is left alone without running the rules (a new rule's trigger belongs
 * here too). No separator a pair, URL or header needs, no token prefix.
 */
export const MAYBE_SECRET =
  /[=:@\s'"%,]|A(?:KIA|SIA|GPA|IDA|ROA|NPA|NVA|IPA)|gh[pousr]_|github_pat_|glpat-|xox[abposre]-|[sr]k_(?:live|test)_|sk-|npm_|pypi-|hv[sbr]\.|AIza|ya29\.|eyJ|BEGIN|hooks\.|webhook/i;
