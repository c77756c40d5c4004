import { describe, expect, it } from "vitest";
import { REDACTED } from "../../common/mask-secrets.js";
import { KNOWN_PROGRAMS, POSITIONAL_SECRETS, TEXT_RULES } from "./redact-rules.js";
import { compileTextRule, redactArgv, redactText } from "./redact.js";

/** For each text rule, a text only it is needed for, and the secret in it. */
const examples: Record<string, { text: string; secret: string }> = {
  "pem-private-key": {
    text: "echo -----BEGIN RSA PRIVATE KEY-----MIIEowIBAAKCAQEA7xQ-----END RSA PRIVATE KEY----- done",
    secret: "MIIEowIBAAKCAQEA7xQ",
  },
  "aws-access-key-id": { text: "id AKIAIOSFODNN7EXAMPLE", secret: "AKIAIOSFODNN7EXAMPLE" },
  "github-token": {
    text: "push ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    secret: "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
  },
  "github-fine-grained-token": {
    text: "use github_pat_11ABCDEFG0abcdefghijkl_mnopq",
    secret: "github_pat_11ABCDEFG0abcdefghijkl_mnopq",
  },
  "gitlab-token": { text: "glpat-AbCdEfGhIjKlMnOpQrSt12", secret: "glpat-AbCdEfGhIjKlMnOpQrSt12" },
  "slack-token": { text: "xoxb-123456789012-AbCdEfGhIj", secret: "xoxb-123456789012-AbCdEfGhIj" },
  "stripe-key": { text: "sk_live_AbCdEfGhIj1234", secret: "sk_live_AbCdEfGhIj1234" },
  "openai-key": { text: "sk-proj-AbCdEfGhIjKlMnOpQrSt12", secret: "sk-proj-AbCdEfGhIjKlMnOpQrSt12" },
  "npm-token": {
    text: "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    secret: "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
  },
  "pypi-token": {
    text: "pypi-AgEIcHlwaS5vcmcCJGQ4NjI0",
    secret: "pypi-AgEIcHlwaS5vcmcCJGQ4NjI0",
  },
  "vault-token": { text: "hvs.CAESIJlWh4Vd1T3xq9s0", secret: "hvs.CAESIJlWh4Vd1T3xq9s0" },
  "google-api-key": {
    text: "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    secret: "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
  },
  "google-oauth-token": { text: "ya29.a0AfH6SMBx1y2z3AbCdEfGh", secret: "ya29.a0AfH6SMBx1y2z3AbCdEfGh" },
  jwt: {
    text: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig",
    secret: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0",
  },
  "aws-secret-access-key": {
    text: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  },
  "chat-webhook": {
    text: "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX",
    secret: "XXXXsecretXXXX",
  },
  "url-credentials": { text: "postgres://etl:Sup3rS3cret@db/warehouse", secret: "Sup3rS3cret" },
  "bare-token-user": {
    text: "git clone 0123456789abcdef0123456789abcdef01@github.com/org/repo",
    secret: "0123456789abcdef0123456789abcdef01",
  },
  "authorization-header": { text: "Authorization: Basic dXNlcjpwYXNz", secret: "dXNlcjpwYXNz" },
  "cookie-header": { text: "Cookie: session_id=abc123def", secret: "abc123def" },
  "bearer-token": { text: '-H "Bearer abcdefgh12345678"', secret: "abcdefgh12345678" },
  "sql-password": { text: "ALTER ROLE etl PASSWORD 'R0le$ecret'", secret: "R0le$ecret" },
  "python-environ-assignment": {
    text: "os.environ['DB_PASSWORD'] = 'EnvS3cret'",
    secret: "EnvS3cret",
  },
  "quoted-secret-key": { text: '{"api_key": "QuotedS3cret"}', secret: "QuotedS3cret" },
  "secret-pairs": { text: "?user=etl&token=PairS3cret", secret: "PairS3cret" },
};

describe("text rule table", () => {
  it("names each rule once", () => {
    const names = TEXT_RULES.map((rule) => rule.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it("uses only patterns the engine can resume: global (or sticky for a pair's value)", () => {
    for (const rule of TEXT_RULES) {
      const patterns =
        "pattern" in rule
          ? [rule.pattern]
          : "span" in rule
            ? [rule.span.begin, rule.span.end]
            : "quotedKey" in rule
              ? [rule.quotedKey.pattern]
              : "pairs" in rule
                ? [rule.pairs.name]
                : [];
      for (const pattern of patterns) expect(pattern.global, `${rule.name}: ${pattern}`).toBe(true);
      if ("pairs" in rule) expect(rule.pairs.value.sticky, rule.name).toBe(true);
    }
  });

  it.each(TEXT_RULES.map((rule) => [rule.name, rule] as const))(
    "%s, alone, redacts its example; the whole redaction does too",
    (name, rule) => {
      const example = examples[name];
      expect(example, `add an example for the new rule ${name}`).toBeDefined();
      const alone = compileTextRule(rule)(example!.text);
      expect(alone).not.toContain(example!.secret);
      expect(alone).toContain(REDACTED);
      expect(redactText(example!.text)).not.toContain(example!.secret);
    },
  );
});

describe("positional secrets", () => {
  it("follow the programs they name", () => {
    for (const rule of POSITIONAL_SECRETS) expect(KNOWN_PROGRAMS.has(rule.program), rule.name).toBe(true);
  });

  it("redact the word at their position after their subcommands, and nothing else", () => {
    expect(redactArgv(["vault", "login", "s.VaultT0ken"])).toEqual(["vault", "login", REDACTED]);
    expect(redactArgv(["vault", "login", "-"])).toEqual(["vault", "login", "-"]);
    expect(redactArgv(["vault", "login", "method=userpass"])).toEqual(["vault", "login", "method=userpass"]);
    expect(redactArgv(["mc", "alias", "set", "s3", "https://s3.example", "ACCESS", "M1n10Secret"])).toEqual([
      "mc",
      "alias",
      "set",
      "s3",
      "https://s3.example",
      "ACCESS",
      REDACTED,
    ]);
    expect(
      redactArgv(["mc", "config", "host", "add", "s3", "https://s3.example", "ACCESS", "M1n10Secret"]),
    ).toEqual(["mc", "config", "host", "add", "s3", "https://s3.example", "ACCESS", REDACTED]);
    expect(redactArgv(["mc", "cp", "a", "b", "c", "d", "e"])).toEqual(["mc", "cp", "a", "b", "c", "d", "e"]);
  });
});

describe("a URL's user part", () => {
  const urlRule = compileTextRule(TEXT_RULES.find((rule) => rule.name === "url-credentials")!);

  it.each([
    // A classic GitHub token as the user, how git is given one; as hex with no digit, too.
    ["https://9f2c4e1a7b3d5f60812e4c9a0b7d3f5e2a1c8b46@github.com/o/r.git", "https://***@github.com/o/r.git"],
    ["https://fdecbbaacdefeebadcfbaefdacebfadcbeafdceb@github.com/o/r.git", "https://***@github.com/o/r.git"],
    // GitHub's documented basic form: the token is the user, `x-oauth-basic` the password.
    [
      "https://9f2c4e1a7b3d5f60812e4c9a0b7d3f5e2a1c8b46:x-oauth-basic@github.com/o/r",
      "https://***:***@github.com/o/r",
    ],
    ["https://9f2c4e1a7b3d5f60812e4c9a0b7d3f5e2a1c8b46:@github.com/o/r", "https://***:@github.com/o/r"],
    ["https://ghp_a1B2c3D4e5F6g7H8i9J0@github.com/o/r", "https://***@github.com/o/r"],
    [
      "https://x-access-token:ghs_a1B2c3D4e5F6g7H8i9J0k1L2@github.com/o/r",
      "https://x-access-token:***@github.com/o/r",
    ],
    ["https://Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5@bitbucket.org/t/r.git", "https://***@bitbucket.org/t/r.git"],
    // Azure DevOps' personal access tokens: 52 characters of lower-case base32.
    [
      "https://x4fq2w7ceu3mzkd5bjg6ylr2pvat7hs3n4xq5oiw6ek2rm3dfyzq@dev.azure.com/org/p/_git/r",
      "https://***@dev.azure.com/org/p/_git/r",
    ],
  ])("%s is a token", (url, expected) => {
    expect(urlRule(url)).toBe(expected);
    expect(redactText(`git clone ${url}`)).toBe(`git clone ${expected}`);
  });

  it.each([
    "ssh://git@github.com/org/repo.git",
    "ssh://svc_airflow_worker01@git.internal/etl.git",
    "https://jenkins-build-agent-0042@ci.internal/job/etl",
    "postgres://airflow_metadata_reader@db.internal:5432/airflow",
    "ftp://anonymous@mirror.internal/pub",
    "https://ReportingUser@bi.internal/api",
  ])("%s is a name and stays", (url) => {
    expect(urlRule(url)).toBe(url);
    expect(redactText(`git clone ${url}`)).toBe(`git clone ${url}`);
  });
});
