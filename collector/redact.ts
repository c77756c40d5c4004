/**
 * Redaction of secrets in command lines and text, before anything is stored (execution_processes.argv,
 * process titles, log lines). Pure functions of strings.
 *
 * What counts as a secret:
 * - the value of a flag or KEY=VALUE pair whose name ends like a secret: password, passwd, pwd, pw, pass,
 *   passphrase, secret, token, credential(s), auth, authorization, cookie, apikey, and "key" when it is
 *   the whole name or qualified as a secret one (api/access/secret/private/account/… key), also as a
 *   quoted key of a JSON, Python or YAML literal (`{'password': '…'}`) and in `os.environ['…'] = '…'`;
 * - program-specific flags: `mysql -pSECRET`, `sshpass -p X`, `docker login -p X`, `az login -p X`,
 *   `twine -p X`, `sqlcmd -P X`, `bcp -P X`, `redis-cli -a X`, `mongo -p X`, `curl -u user:X`,
 *   `curl -b name=X`, `smbclient -U user%X`, `lftp -u user,X`, `sqlplus user/X@db`, `gh secret set -b X`;
 * - positional secrets: `vault login TOKEN`, `mc alias set NAME URL ACCESS SECRET`, `htpasswd -b … X`, the
 *   value after a secret-named key in `aws configure set`, `npm config set`, `git config`,
 *   `airflow variables set`;
 * - credentials in URLs (`scheme://user:X@host`, and a long token used as the user, `https://TOKEN@host`),
 *   chat webhook URLs (Slack, Discord, Microsoft Teams; Google Chat's are caught by their `key=`/`token=`),
 *   `Authorization:` and `Cookie:` headers, bearer tokens, SQL `PASSWORD '…'` and `IDENTIFIED BY …`;
 * - well-known token shapes wherever they appear: AWS access key ids and secret keys, GitHub, GitLab,
 *   Slack, Stripe, npm, PyPI, Vault, Google API keys and OAuth tokens, JWTs, PEM private keys.
 *
 * False positives are weighed against leaks: names are matched on their last word (`--max-key-length 5`,
 * `--token-file path`, `--sort-key ts` survive; `--api-key X` does not), and `-p` is a password only for
 * programs where it means one (for psql and ssh it is the port).
 *
 * Cost: every rule runs in time linear in the text (no pattern can restart a long scan at every position
 * of a run: tested with 1 MB adversarial arguments), and {@link redactArgv} scans at most
 * {@link MAX_SCANNED_ARGUMENT} characters of an argument and returns at most {@link MAX_STORED_ARGUMENT}.
 */

import { isTokenShaped, maskUrlCredentials, REDACTED } from "../common/mask-secrets.js";

/** What a redacted value becomes (the same mark as everywhere rightsize masks a secret). */
export { REDACTED };

/**
 * Characters of one argument that are scanned. Linux caps one argument at MAX_ARG_STRLEN = 32 pages
 * (128 KiB, include/uapi/linux/binfmts.h); scanning 16 KiB sees every secret that starts within the
 * stored part and is shorter than 12 KiB (a PEM RSA-4096 private key is about 3.3 KB).
 */
export const MAX_SCANNED_ARGUMENT = 16 * 1024;
/**
 * Characters of one argument that are stored: enough for any command's flags, scripts and paths a report
 * shows (the report prints the command name and its argv only), small enough that a process with a huge
 * inline script or blob cannot fill execution_processes.
 */
export const MAX_STORED_ARGUMENT = 4 * 1024;
/**
 * Characters of one command line that are scanned (the kernel allows up to ARG_MAX, 2 MiB by default),
 * each argument counted as at least {@link MIN_ARGUMENT_CHARGE}: bounds the worst case (hostile words
 * that wake every rule) to about 0.1 s of a core per command line, measured as in docs/collector-storage.md.
 * A spark-submit with fifty `--conf` settings is about 4 KiB.
 */
export const MAX_SCANNED_COMMAND_LINE = 32 * 1024;
/** What an argument costs at least against {@link MAX_SCANNED_COMMAND_LINE}: 1,024 arguments at most. */
const MIN_ARGUMENT_CHARGE = 32;

/** Words that, as the last word of a name, make its value a secret. */
const SECRET_LAST_WORDS = new Set([
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

/** Words of a Hadoop-Azure per-account setting that make it a secret (not `auth.type`, `oauth.provider`). */
const AZURE_SECRET_PARTS = new Set(["secret", "password", "token", "sas", "credential", "credentials"]);

/** Every secret name contains one of these (a cheap first test: most names are not secrets). */
const SECRET_HINT = /pass|pw|pwd|secret|token|cred|auth|cookie|key|sig|dsn|sas/i;

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
  if (bare.length === 0 || bare.length > 200 || !SECRET_HINT.test(bare)) return false;
  if (NOT_SECRET_NAME.test(bare.toLowerCase())) return false;
  const parts = words(bare);
  const last = parts.at(-1);
  if (last === undefined) return false;
  if (SECRET_LAST_WORDS.has(last)) return true;
  // Azure's `fs.azure.account.key.ACCOUNT.blob.core.windows.net`: the account name follows the key.
  if (parts.some((part, index) => part === "account" && parts[index + 1] === "key")) return true;
  // Hadoop-Azure's per-account settings put the account's host after the secret's name:
  // `fs.azure.account.oauth2.client.secret.ACCOUNT.dfs.core.windows.net`, `fs.azure.sas.CONTAINER.ACCOUNT…`
  // (hadoop-azure's ConfigurationKeys.java: FS_AZURE_ACCOUNT_KEY_PROPERTY_NAME, FS_AZURE_SAS_KEY…).
  if (/\.windows\.net$/i.test(bare) && parts.some((part) => AZURE_SECRET_PARTS.has(part))) {
    return true;
  }
  if (last === "key" || last === "keys") {
    const previous = parts.at(-2);
    return previous === undefined || SECRET_KEY_QUALIFIERS.has(previous);
  }
  return SECRET_COMPACT_ENDINGS.test(parts.join(""));
}

/** Programs whose short flag `-p` carries the password attached (`-pSECRET`; a bare `-p` prompts). */
const PASSWORD_P_ATTACHED = new Set([
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
const PASSWORD_CAPITAL_P = new Set(["sqlcmd", "bcp", "osql", "isql"]);
/** Programs (and subcommands) where a short flag is followed by the password as the next word. */
const PASSWORD_NEXT_WORD: Record<string, Set<string>> = {
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
/** Samba clients: `-U user%password` (smbclient(1), "-U|--user=[DOMAIN\]USERNAME[%PASSWORD]"). */
const SAMBA_CLIENTS = new Set(["smbclient", "rpcclient", "smbcacls", "smbget", "smbtree"]);
/** FTP clients whose `-u user,password` joins the two with a comma (lftp(1)). */
const COMMA_PASSWORD_CLIENTS = new Set(["lftp"]);
/** Oracle tools whose first argument may be `user/password[@connect]` (SQL*Plus "logon" syntax). */
const ORACLE_LOGON = new Set(["sqlplus", "rman", "expdp", "impdp", "sqlldr", "dgmgrl"]);
/** Programs whose state the word rules follow. */
const KNOWN_PROGRAMS = new Set([
  ...PASSWORD_P_ATTACHED,
  ...PASSWORD_CAPITAL_P,
  ...Object.keys(PASSWORD_NEXT_WORD),
  ...REGISTRY_CLIENTS,
  ...HTTP_CLIENTS,
  ...SAMBA_CLIENTS,
  ...COMMA_PASSWORD_CLIENTS,
  ...ORACLE_LOGON,
  "az",
  "gh",
  "vault",
  "mc",
  "htpasswd",
  "aws",
  "npm",
  "yarn",
  "pnpm",
  "git",
  "airflow",
]);
/** A positional word after these (in `aws configure set`, `npm config set`, `airflow variables set`…). */
const SETTING_VERBS = new Set(["set", "config", "--global", "--local", "--system", "--worktree"]);

const QUOTES = /^["'`]+|["'`]+$/g;

function programOf(bare: string): string {
  if (bare.length > 256 || bare.includes("=")) return "";
  return bare.slice(bare.lastIndexOf("/") + 1).toLowerCase();
}

/** Keeps a token's leading and trailing quotes around a replacement. */
function requote(original: string, replacement: string): string {
  const lead = /^["'`]*/.exec(original)?.[0] ?? "";
  const trail = /["'`]*$/.exec(original.slice(lead.length))?.[0] ?? "";
  return `${lead}${replacement}${trail}`;
}

/** Cuts a string at `limit` UTF-16 units without splitting a surrogate pair. */
function cut(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const code = text.charCodeAt(limit - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit);
}

/**
 * Redacts one command line given as words. The word-level rules (a secret flag's next word, KEY=VALUE
 * words, program-specific flags and positionals) run first, then every word goes through
 * {@link redactText} for secrets inside it (a URL, a `bash -c "…"` script, a JSON blob). Each argument
 * is scanned up to {@link MAX_SCANNED_ARGUMENT} and stored up to {@link MAX_STORED_ARGUMENT} characters;
 * a longer one ends with `…[N more characters]`.
 */
export function redactArgv(argv: string[]): string[] {
  // Arguments past the command line's budget are not looked at; one marker says how many there were.
  let budget = MAX_SCANNED_COMMAND_LINE;
  let taken = 0;
  while (taken < argv.length && budget > 0) {
    budget -= Math.max(MIN_ARGUMENT_CHARGE, Math.min(argv[taken++]!.length, MAX_SCANNED_ARGUMENT));
  }
  const scanned = argv.slice(0, taken).map((word) => cut(word, MAX_SCANNED_ARGUMENT));
  const out = redactWords(scanned).map((word, index) => {
    const redacted = redactText(word);
    const original = argv[index]!.length;
    if (redacted.length <= MAX_STORED_ARGUMENT && original <= MAX_SCANNED_ARGUMENT) return redacted;
    const kept = cut(redacted, MAX_STORED_ARGUMENT);
    // Counted against the original, so a reader knows how much was never looked at.
    return `${kept}…[${Math.max(0, original - kept.length)} more characters]`;
  });
  if (taken < argv.length) out.push(`…[${argv.length - taken} more arguments]`);
  return out;
}

/** A key flag's value that names a file holding the key, by its extension (PEM, DER, PKCS#12, JKS, JSON). */
const KEY_FILE = /^[\w./~-]*\.(?:pem|key|crt|cer|der|p8|p12|pfx|jks|json|pub|asc|gpg|ppk)$/i;

/** `user%password` → `user%***` (Samba), `user,password` → `user,***` (lftp), `user:password` → `user:***`. */
function redactAfter(token: string, separator: string): string {
  const bare = token.replace(QUOTES, "");
  const at = bare.indexOf(separator);
  return at === -1 ? token : requote(token, `${bare.slice(0, at + 1)}${REDACTED}`);
}

type NextWord = "secret" | "key" | "user:password" | "user%password" | "user,password" | "cookie";

function redactWords(argv: string[]): string[] {
  const out: string[] = [];
  let program = "";
  /** Positional words since the program (its subcommands and arguments). */
  let positionals: string[] = [];
  let nextIs: NextWord | null = null;
  /** htpasswd `-b`: which positional holds the password (`-nb USER PASS`: 1, `-b FILE USER PASS`: 2). */
  let htpasswdPasswordAt = -1;
  for (const [index, token] of argv.entries()) {
    const bare = token.length > MAX_SCANNED_ARGUMENT ? token : token.replace(QUOTES, "");
    if (nextIs !== null) {
      // A value may itself start with one dash (`-x9Secret`); two dashes is the next flag, the value was
      // omitted (prompted for).
      if (!bare.startsWith("--")) {
        const kind = nextIs;
        nextIs = null;
        if (kind === "secret") out.push(requote(token, REDACTED));
        else if (kind === "key") out.push(KEY_FILE.test(bare) ? token : requote(token, REDACTED));
        else if (kind === "user:password") out.push(redactAfter(token, ":"));
        else if (kind === "user%password") out.push(redactAfter(token, "%"));
        else if (kind === "user,password") out.push(redactAfter(token, ","));
        // curl's `-b name=value` is a cookie; `-b FILE` (no `=`) reads cookies from a file.
        else out.push(bare.includes("=") ? requote(token, REDACTED) : token);
        continue;
      }
      nextIs = null;
    }
    const base = programOf(bare);
    if (KNOWN_PROGRAMS.has(base) && !(base === "http" && program !== "")) {
      program = base;
      positionals = [];
      htpasswdPasswordAt = -1;
      out.push(token);
      continue;
    }

    if (!bare.startsWith("-")) {
      const position = positionals.length;
      const previous = positionals.at(-1);
      positionals.push(bare);
      const secretPositional =
        // `vault login TOKEN` (vault/command/login.go: the token is the first argument).
        (program === "vault" &&
          previous === "login" &&
          position === 1 &&
          bare !== "-" &&
          !bare.includes("=")) ||
        // `mc alias set NAME URL ACCESS SECRET`, `mc config host add NAME URL ACCESS SECRET` (minio/mc).
        (program === "mc" &&
          ((positionals[0] === "alias" && positionals[1] === "set" && position === 5) ||
            (positionals[0] === "config" &&
              positionals[1] === "host" &&
              positionals[2] === "add" &&
              position === 6))) ||
        (program === "htpasswd" && htpasswdPasswordAt === position) ||
        // A secret-named key right after a setting verb: its value is the next positional.
        (position >= 1 &&
          previous !== undefined &&
          previous === argv[index - 1]?.replace(QUOTES, "") &&
          isSecretName(previous) &&
          SETTING_VERBS.has(positionals[position - 2] ?? ""));
      if (secretPositional) {
        out.push(requote(token, REDACTED));
        continue;
      }
      // sqlplus scott/tiger@orcl
      if (ORACLE_LOGON.has(program) && position === 0) {
        const logon = /^([^/\s@]+\/)([^@\s]+)(@.*)?$/.exec(bare);
        if (logon) {
          out.push(requote(token, `${logon[1]}${REDACTED}${logon[3] ?? ""}`));
          continue;
        }
      }
    }

    // --name=value, -Dname=value
    const hasEquals = bare.includes("=");
    const flagWithValue =
      hasEquals && bare.startsWith("-")
        ? /^(--?(?:D(?=[a-z]))?)([A-Za-z][\w.:-]*)=([\s\S]*)$/.exec(bare)
        : null;
    if (flagWithValue && flagWithValue[3] !== "") {
      const [, prefix, name, value] = flagWithValue;
      if (isSecretName(name!)) {
        out.push(value!.includes(REDACTED) ? token : requote(token, `${prefix}${name}=${REDACTED}`));
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
      if (flag === "--user" && SAMBA_CLIENTS.has(program) && value!.includes("%")) {
        out.push(requote(token, `${prefix}${name}=${value!.slice(0, value!.indexOf("%") + 1)}${REDACTED}`));
        continue;
      }
    }
    // NAME=value (environment prefixes, spark.hadoop.fs.s3a.secret.key=…, docker -e)
    // A word with spaces after the = is a script (`sh -c "PGPASSWORD=x pg_dump …"`): left to redactText.
    const assignment = hasEquals ? /^([A-Za-z_][\w.-]*)=(\S+)$/.exec(bare) : null;
    if (assignment && isSecretName(assignment[1]!)) {
      const value = assignment[2]!;
      const quote = value[0] === "'" || value[0] === '"' ? value[0] : "";
      const close = quote === "" ? -1 : value.indexOf(quote, 1);
      if (value.includes(REDACTED)) out.push(token);
      // password='x') inside a script: only the quoted literal is the value.
      else if (close !== -1) {
        out.push(
          `${token.slice(0, token.indexOf(bare))}${assignment[1]}=${quote}${REDACTED}${value.slice(close)}`,
        );
      } else out.push(requote(token, `${assignment[1]}=${REDACTED}`));
      continue;
    }
    // mysql -pSECRET, sqlcmd -PSECRET
    if (
      (PASSWORD_P_ATTACHED.has(program) && /^-p.+/.test(bare)) ||
      (PASSWORD_CAPITAL_P.has(program) && /^-P.+/.test(bare))
    ) {
      out.push(requote(token, `${bare.slice(0, 2)}${REDACTED}`));
      continue;
    }
    // smbclient -Uuser%password
    if (SAMBA_CLIENTS.has(program) && /^-U.+%/.test(bare)) {
      out.push(redactAfter(token, "%"));
      continue;
    }
    // A bare flag: its value is the next word.
    if (/^--?[A-Za-z][\w.-]*$/.test(bare)) {
      const subcommand =
        positionals[0] === "login"
          ? `${REGISTRY_CLIENTS.has(program) ? "registry" : program} login`
          : `${program} ${positionals[0] ?? ""}`;
      if (bare.startsWith("--") && isSecretName(bare)) nextIs = "secret";
      else if (PASSWORD_NEXT_WORD[program]?.has(bare) || PASSWORD_NEXT_WORD[subcommand]?.has(bare)) {
        nextIs = "secret";
      } else if (USER_PASSWORD_FLAGS.has(bare) && (bare.startsWith("--proxy") || HTTP_CLIENTS.has(program))) {
        nextIs = "user:password";
      } else if ((bare === "-U" || bare === "--user") && SAMBA_CLIENTS.has(program)) nextIs = "user%password";
      else if ((bare === "-u" || bare === "--user") && COMMA_PASSWORD_CLIENTS.has(program)) {
        nextIs = "user,password";
      } else if (bare === "-b" && HTTP_CLIENTS.has(program)) nextIs = "cookie";
      else if (/^-[A-Za-z]/.test(bare) && !bare.startsWith("--") && bare.length > 2 && isSecretName(bare)) {
        nextIs = "secret"; // -password, -passin (openssl, java tools)
      }
      // `--ssh-key id.pem`, `openssl req -key server.key`: a key flag may name the key's file.
      if (nextIs === "secret" && /keys?$/i.test(bare)) nextIs = "key";
      // htpasswd -b FILE USER PASSWORD, -nb USER PASSWORD (htpasswd(1)).
      if (program === "htpasswd" && /^-[a-zA-Z]*b/.test(bare)) {
        htpasswdPasswordAt = bare.includes("n") ? 1 : 2;
      }
    }
    out.push(token);
  }
  return out;
}

/**
 * Shapes of tokens that are secrets wherever they appear. A prefix that can occur inside a run of the
 * token's own characters is anchored with a look-behind on that alphabet (not `\b`), so a failed match
 * is never retried from every position of the same run (linear time).
 */
const TOKEN_PATTERNS: RegExp[] = [
  // AWS access key ids (IAM user, temporary STS, role, group…).
  /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/g,
  // GitHub tokens: personal, OAuth, user-to-server, server-to-server, refresh; fine-grained PATs.
  /\bgh[pousr]_[A-Za-z0-9]{30,}\b/g,
  /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}/g,
  // GitLab personal/project tokens.
  /(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}/g,
  // Slack bot, user, app, refresh, legacy tokens.
  /(?<![A-Za-z0-9-])xox[abposre]-[A-Za-z0-9-]{10,}/g,
  // Stripe secret and restricted keys; OpenAI-style keys.
  /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}\b/g,
  /(?<![A-Za-z0-9_-])sk-(?:proj-)?[A-Za-z0-9_-]{20,}/g,
  // npm tokens.
  /\bnpm_[A-Za-z0-9]{36}\b/g,
  // PyPI API tokens: "pypi-" and a macaroon, whose base64 starts "AgE" (warehouse/macaroons).
  /(?<![A-Za-z0-9_-])pypi-AgE[A-Za-z0-9_-]{20,}/g,
  // HashiCorp Vault service, batch and recovery tokens (vault/helper/tokens: "hvs.", "hvb.", "hvr.").
  /(?<![A-Za-z0-9_.-])hv[sbr]\.[A-Za-z0-9_-]{20,}/g,
  // Google API keys and OAuth access tokens.
  /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g,
  /(?<![A-Za-z0-9_.-])ya29\.[0-9A-Za-z_-]{20,}/g,
  // JWTs: base64url header and payload (both start with `{"` → "eyJ"), optional signature.
  /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
];

/** Something in the text that some rule of {@link redactText} could match (see its fast path). */
const MAYBE_SECRET =
  /[=:@\s'"%,]|A(?:KIA|SIA|GPA|IDA|ROA|NPA|NVA|IPA)|gh[pousr]_|github_pat_|glpat-|xox[abposre]-|[sr]k_(?:live|test)_|sk-|npm_|pypi-|hv[sbr]\.|AIza|ya29\.|eyJ|BEGIN|hooks\.|webhook/i;

/** PEM private keys (also with `\n` escaped inside JSON strings); an unterminated one runs to the end. */
const PEM_BEGIN = /-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----/g;
const PEM_END = /-----END [A-Z ]{0,40}PRIVATE KEY-----/g;

function redactPem(text: string): string {
  PEM_BEGIN.lastIndex = 0;
  let out = "";
  let copied = 0;
  for (let begin = PEM_BEGIN.exec(text); begin !== null; begin = PEM_BEGIN.exec(text)) {
    PEM_END.lastIndex = begin.index + begin[0].length;
    const end = PEM_END.exec(text);
    out += `${text.slice(copied, begin.index)}${REDACTED}`;
    copied = end ? end.index + end[0].length : text.length;
    if (!end) break;
    PEM_BEGIN.lastIndex = copied;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * An AWS secret access key is 40 characters of base64; a run of exactly 40 such characters with upper
 * case, lower case and a digit in it (a git SHA-1 is lower-case hex and survives). Whole runs are
 * matched, so a long run is looked at once.
 */
const BASE64_RUN = /[A-Za-z0-9/+=]+/g;

function redactAwsSecretShapes(text: string): string {
  return text.replace(BASE64_RUN, (run) =>
    run.length === 40 && !run.includes("=") && /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run)
      ? REDACTED
      : run,
  );
}

/** Chat webhook URLs, whose path is the credential. */
const WEBHOOKS =
  /((?:hooks\.slack\.com\/(?:services|workflows|triggers)|(?:discord|discordapp)\.com\/api\/(?:v\d+\/)?webhooks|webhook\.office\.com\/webhookb2|outlook\.office(?:365)?\.com\/webhook)\/)[^\s'"?#&]+/gi;

/** A token used as the user of a scheme-less address (`TOKEN@github.com/org/repo`): 32+ characters. */
const BARE_TOKEN_USER = /(?<![A-Za-z0-9_\-+/=~.])[A-Za-z0-9_\-+/=~]{32,}(?=@[A-Za-z0-9])/g;

/** `Authorization: Bearer X`, `Authorization=Basic X`, `Proxy-Authorization: X`. */
const AUTHORIZATION_HEADER =
  /\b((?:proxy-)?authorization[ \t]*[:=][ \t]*)(?:(bearer|basic|token|digest|negotiate)[ \t]+)?([^\s'"]+)/gi;
/** `Cookie: a=1; b=2` and `Set-Cookie: …`: the whole header value, up to the end of the line or quote. */
const COOKIE_HEADER = /\b((?:set-)?cookie[ \t]*:[ \t]*)[^'"\r\n]+/gi;
/** A bearer token outside a header (`--header "Bearer X"`, log lines). */
const BEARER = /\b(Bearer\s+)([A-Za-z0-9._~+/-]{8,}=*)/g;
/** SQL: `PASSWORD 'x'` (PostgreSQL CREATE/ALTER ROLE), `IDENTIFIED BY 'x'` (MySQL) or `IDENTIFIED BY x` (Oracle). */
const SQL_PASSWORD =
  /\b((?:password|identified[ \t]+by)[ \t]+)(?:[EeNn]?'(?:[^']|'')*'|"[^"]*"|\$\$[^$]*\$\$|(?<=by[ \t]+)[^\s;'"]+)/gi;
/** `os.environ['NAME'] = 'value'`, `os.environ.setdefault('NAME', 'value')`, `os.putenv('NAME', 'value')`. */
const ENVIRON_ASSIGNMENT =
  /(\b(?:environ[ \t]*\[[ \t]*|environ\.setdefault\([ \t]*|putenv\([ \t]*)(\\?["'])([A-Za-z_][\w.-]{0,99})\2[ \t]*(?:\][ \t]*=|,)[ \t]*)(\\?["'])/g;
/**
 * A quoted key in a JSON, Python or YAML literal: `"password": …`, `'password': …`, `\"password\": …`
 * (JSON inside a shell string); the value is found by {@link quotedValueEnd}.
 */
const QUOTED_KEY = /(\\?["'])([A-Za-z_][\w.-]{0,99})\1[ \t]*[:=][ \t]*/g;

/**
 * The end of a value that starts at `start`: a quoted string (same quote, backslash escapes), else up
 * to the next separator of a literal (`,`, `}`, `]`, whitespace).
 */
function quotedValueEnd(text: string, start: number): number {
  const escaped = text[start] === "\\" && (text[start + 1] === '"' || text[start + 1] === "'");
  const quote = escaped ? text[start + 1] : text[start];
  if (quote === '"' || quote === "'") {
    if (escaped) {
      const close = text.indexOf(`\\${quote}`, start + 2);
      return close === -1 ? text.length : close + 2;
    }
    for (let position = start + 1; position < text.length; position++) {
      if (text[position] === "\\") position++;
      else if (text[position] === quote) return position + 1;
    }
    return text.length;
  }
  let position = start;
  while (position < text.length && !/[\s,}\]]/.test(text[position]!)) position++;
  return position;
}

/** Replaces a value, keeping its quotes (`"x"` → `"***"`, `\'x\'` → `\'***\'`, `x` → `***`). */
function redactedValue(value: string): string {
  const quote = /^\\?["']/.exec(value)?.[0] ?? "";
  if (quote === "" || value.length < quote.length * 2) return REDACTED;
  return `${quote}${REDACTED}${value.endsWith(quote) ? quote : ""}`;
}

function redactQuotedPairs(text: string, pattern: RegExp, nameGroup: number): string {
  let out = "";
  let copied = 0;
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    if (!isSecretName(match[nameGroup]!)) continue;
    const valueStart =
      match.index + match[0].length - (pattern === ENVIRON_ASSIGNMENT ? match[4]!.length : 0);
    const end = quotedValueEnd(text, valueStart);
    const value = text.slice(valueStart, end);
    if (value.length === 0 || value.replace(/\\?["']/g, "") === REDACTED || valueStart < copied) continue;
    out += `${text.slice(copied, valueStart)}${redactedValue(value)}`;
    copied = end;
    pattern.lastIndex = Math.max(pattern.lastIndex, end);
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * A name of name=value or name: value in free text (env dumps, query strings, connection strings,
 * headers). Names are whole runs of name characters, so a long run is read once; the character after
 * the run says whether it is a pair. The value is measured separately so that a pair whose name is not
 * secret does not swallow the next one (`--env=PASSWORD=x`, `?a=1&token=x`). `scheme://` is not a pair.
 */
const NAME_RUN = /[A-Za-z_][\w.-]*/g;
/** A pair's value: a quoted string, or up to the next separator. */
const TEXT_PAIR_VALUE = /"[^"]*"|'[^']*'|[^\s&;,'"]+/y;

function redactPairs(text: string): string {
  let out = "";
  let copied = 0;
  NAME_RUN.lastIndex = 0;
  for (let match = NAME_RUN.exec(text); match !== null; match = NAME_RUN.exec(text)) {
    const name = match[0];
    let valueStart = match.index + name.length;
    const separator = text[valueStart];
    if (separator === "=") valueStart++;
    else if (separator === ":" && text[valueStart + 1] !== "/") {
      valueStart++;
      while (text[valueStart] === " " || text[valueStart] === "\t") valueStart++;
    } else continue;
    // Authorization headers are handled with their scheme word by AUTHORIZATION_HEADER.
    if (!isSecretName(name) || /authorization$/i.test(name)) continue;
    TEXT_PAIR_VALUE.lastIndex = valueStart;
    const value = TEXT_PAIR_VALUE.exec(text)?.[0];
    // Already redacted (a URL's `user:***@host`, where the user name reads like a secret).
    if (value === undefined || value === REDACTED || value.startsWith(`${REDACTED}@`)) continue;
    if (value.replace(/^["']|["']$/g, "") === REDACTED) continue;
    const quote = /^["']/.test(value) ? value[0] : "";
    out += `${text.slice(copied, valueStart)}${quote}${REDACTED}${quote}`;
    copied = valueStart + value.length;
    NAME_RUN.lastIndex = copied;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * Redacts secrets in free text: a shell command string, a process title, a log line, a JSON blob.
 * Shell-like words are also run through the command-line rules of {@link redactArgv}. Linear in the
 * length of the text; callers bound the length ({@link redactArgv} does).
 */
export function redactText(text: string): string {
  // Fast path for the common word (`python`, `--pool`, `etl_daily`): nothing any rule below could match.
  // Shorter than the 40-character AWS secret shape, no separator a pair, URL or header needs, no token
  // prefix. The collector redacts every argv it sees, so this is most of the calls.
  if (text.length < 40 && !MAYBE_SECRET.test(text)) return text;
  // Words of a shell command inside the text (`bash -c "mysql -pX"`, `sshpass -p X ssh …`), first: a
  // text rule must not hide the flag that says what the next word is.
  let out = text;
  if (/\s/.test(out)) {
    // split() with a capturing group alternates words (even indexes, maybe empty) and whitespace.
    const parts = out.split(/(\s+)/);
    const wordIndexes: number[] = [];
    for (let index = 0; index < parts.length; index += 2) if (parts[index] !== "") wordIndexes.push(index);
    const redacted = redactWords(wordIndexes.map((index) => parts[index]!));
    wordIndexes.forEach((index, position) => {
      parts[index] = redacted[position]!;
    });
    out = parts.join("");
  } else {
    out = redactWords([out])[0] ?? out;
  }
  out = redactPem(out);
  for (const pattern of TOKEN_PATTERNS) out = out.replace(pattern, REDACTED);
  out = redactAwsSecretShapes(out);
  out = out.replace(WEBHOOKS, (_, prefix: string) => `${prefix}${REDACTED}`);
  out = maskUrlCredentials(out);
  out = out.replace(BARE_TOKEN_USER, (user) => (isTokenShaped(user) ? REDACTED : user));
  out = out.replace(AUTHORIZATION_HEADER, (_, header: string, scheme: string | undefined) =>
    scheme ? `${header}${scheme} ${REDACTED}` : `${header}${REDACTED}`,
  );
  out = out.replace(COOKIE_HEADER, (_, header: string) => `${header}${REDACTED}`);
  out = out.replace(BEARER, (_, bearer: string) => `${bearer}${REDACTED}`);
  out = out.replace(SQL_PASSWORD, (match, head: string) => {
    const value = match.slice(head.length);
    return value.replace(/^[EeNn]?['"$]+|['"$]+$/g, "") === REDACTED
      ? match
      : `${head}${redactedValue(value)}`;
  });
  out = redactQuotedPairs(out, ENVIRON_ASSIGNMENT, 3);
  out = redactQuotedPairs(out, QUOTED_KEY, 2);
  out = redactPairs(out);
  return out;
}
