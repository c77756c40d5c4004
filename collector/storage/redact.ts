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
 * - credentials in URLs (`scheme://user:X@host`, and a token used as the user, `https://TOKEN@host` and
 *   `https://TOKEN:x-oauth-basic@host`; common/mask-secrets.ts `isTokenShaped` tells a token from a name),
 *   chat webhook URLs (Slack, Discord, Microsoft Teams; Google Chat's are caught by their `key=`/`token=`),
 *   `Authorization:` and `Cookie:` headers, bearer tokens, SQL `PASSWORD '…'` and `IDENTIFIED BY …`;
 * - well-known token shapes wherever they appear: AWS access key ids and secret keys, GitHub, GitLab,
 *   Slack, Stripe, npm, PyPI, Vault, Google API keys and OAuth tokens, JWTs, PEM private keys.
 *
 * False positives are weighed against leaks: names are matched on their last word (`--max-key-length 5`,
 * `--token-file path`, `--sort-key ts` survive; `--api-key X` does not), and `-p` is a password only for
 * programs where it means one (for psql and ssh it is the port).
 *
 * The rules are data in collector/storage/redact-rules.ts (names, programs, the text rule table); this module is
 * the engine that applies them.
 *
 * Cost: every rule runs in time linear in the text (no pattern can restart a long scan at every position
 * of a run: tested with 1 MB adversarial arguments), and {@link redactArgv} scans at most
 * {@link MAX_SCANNED_ARGUMENT} characters of an argument and returns at most {@link MAX_STORED_ARGUMENT}.
 */

import { REDACTED } from "../../common/mask-secrets.js";
import {
  AZURE_SECRET_PARTS,
  COMMA_PASSWORD_CLIENTS,
  HTTP_CLIENTS,
  KEY_FILE,
  KNOWN_PROGRAMS,
  MAYBE_SECRET,
  NOT_SECRET_NAME,
  ORACLE_LOGON,
  PASSWORD_CAPITAL_P,
  PASSWORD_NEXT_WORD,
  PASSWORD_P_ATTACHED,
  POSITIONAL_SECRETS,
  REGISTRY_CLIENTS,
  redactedValue,
  SAMBA_CLIENTS,
  SECRET_COMPACT_ENDINGS,
  SECRET_HINT,
  SECRET_KEY_QUALIFIERS,
  SECRET_LAST_WORDS,
  SETTING_VERBS,
  PEM_PRIVATE_KEY,
  TEXT_RULES,
  type TextRule,
  USER_PASSWORD_FLAGS,
} from "./redact-rules.js";

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
  const scanned = argv.slice(0, taken).map((word) => PEM_STEP(cut(word, MAX_SCANNED_ARGUMENT)));
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
        POSITIONAL_SECRETS.some(
          (rule) =>
            rule.program === program &&
            rule.position === position &&
            rule.after.every((word, at) => positionals[at] === word) &&
            !rule.unless?.test(bare),
        ) ||
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

/** From each `begin` to the next `end` (or the end of the text) becomes the mark. */
function redactSpans(text: string, begin: RegExp, end: RegExp): string {
  begin.lastIndex = 0;
  let out = "";
  let copied = 0;
  for (let open = begin.exec(text); open !== null; open = begin.exec(text)) {
    end.lastIndex = open.index + open[0].length;
    const close = end.exec(text);
    out += `${text.slice(copied, open.index)}${REDACTED}`;
    copied = close ? close.index + close[0].length : text.length;
    if (!close) break;
    begin.lastIndex = copied;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

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

/** The value after each quoted key whose name (group `nameGroup`) is a secret name becomes the mark. */
function redactQuotedKeys(text: string, pattern: RegExp, nameGroup: number, valueGroup?: number): string {
  let out = "";
  let copied = 0;
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    if (!isSecretName(match[nameGroup]!)) continue;
    const valueStart =
      match.index + match[0].length - (valueGroup === undefined ? 0 : match[valueGroup]!.length);
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
 * name=value and name: value in free text: the character after a whole run of name characters says
 * whether it is a pair (`scheme://` is not); the value of a secret name becomes the mark.
 */
function redactPairs(text: string, names: RegExp, values: RegExp, except: RegExp): string {
  let out = "";
  let copied = 0;
  names.lastIndex = 0;
  for (let match = names.exec(text); match !== null; match = names.exec(text)) {
    const name = match[0];
    let valueStart = match.index + name.length;
    const separator = text[valueStart];
    if (separator === "=") valueStart++;
    else if (separator === ":" && text[valueStart + 1] !== "/") {
      valueStart++;
      while (text[valueStart] === " " || text[valueStart] === "\t") valueStart++;
    } else continue;
    if (!isSecretName(name) || except.test(name)) continue;
    values.lastIndex = valueStart;
    const value = values.exec(text)?.[0];
    // Already redacted (a URL's `user:***@host`, where the user name reads like a secret).
    if (value === undefined || value === REDACTED || value.startsWith(`${REDACTED}@`)) continue;
    if (value.replace(/^["']|["']$/g, "") === REDACTED) continue;
    const quote = /^["']/.test(value) ? value[0] : "";
    out += `${text.slice(copied, valueStart)}${quote}${REDACTED}${quote}`;
    copied = valueStart + value.length;
    names.lastIndex = copied;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * One row of the text rule table (collector/storage/redact-rules.ts) as a function of the text. Each row becomes
 * its own small function once, so applying the table is a run of direct calls. Exported for tests.
 */
export function compileTextRule(rule: TextRule): (text: string) => string {
  if ("pattern" in rule) {
    const { pattern, replace } = rule;
    if (typeof replace === "string") return (text) => text.replace(pattern, replace);
    return (text) => text.replace(pattern, replace);
  }
  if ("span" in rule) {
    const { begin, end } = rule.span;
    return (text) => redactSpans(text, begin, end);
  }
  if ("quotedKey" in rule) {
    const { pattern, nameGroup, valueGroup } = rule.quotedKey;
    return (text) => redactQuotedKeys(text, pattern, nameGroup, valueGroup);
  }
  if ("pairs" in rule) {
    const { name, value, except } = rule.pairs;
    return (text) => redactPairs(text, name, value, except);
  }
  return rule.redact;
}

const TEXT_STEPS = TEXT_RULES.map(compileTextRule);
/** Runs before any word rule (see PEM_PRIVATE_KEY); the text rules run it again, finding nothing. */
const PEM_STEP = compileTextRule(PEM_PRIVATE_KEY);

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
  let out = PEM_STEP(text);
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
  for (const step of TEXT_STEPS) out = step(out);
  return out;
}
