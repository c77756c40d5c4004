import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isSecretName,
  MAX_SCANNED_ARGUMENT,
  MAX_STORED_ARGUMENT,
  REDACTED,
  redactArgv,
  redactText,
} from "./redact.js";

/** Splits a command line on spaces, keeping "double-quoted words" together (no escapes needed here). */
function words(line: string): string[] {
  return (line.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((word) => word.replace(/^(["'])([\s\S]*)\1$/, "$2"));
}

interface Case {
  line: string;
  secrets: string[];
  /** Parts of the command that must survive (what makes the argv useful for the report). */
  keep: string[];
}

// Secrets are made up but shaped like the real thing (lengths, alphabets, prefixes).
const AWS_ID = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const STS_ID = "ASIAY34FZKBOKMUTVV7A";
const GH = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";
const GH_PAT = "github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789ABCDEFGHIJ";
const SLACK = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
const AZURE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const corpus: Case[] = [
  {
    line: "airflow connections add pg --conn-uri postgres://etl:Sup3rS3cret!@db.internal:5432/warehouse",
    secrets: ["Sup3rS3cret!"],
    keep: ["airflow", "connections", "etl:", "db.internal:5432/warehouse"],
  },
  {
    line: "airflow connections add s3 --conn-type aws --conn-login AKIAIOSFODNN7EXAMPLE --conn-password wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    secrets: [AWS_ID, AWS_SECRET],
    keep: ["--conn-type", "aws", "--conn-password"],
  },
  {
    line: "airflow tasks run etl_daily load_orders scheduled__2024-01-01T00:00:00+00:00 --local --pool default_pool",
    secrets: [],
    keep: ["etl_daily", "load_orders", "scheduled__2024-01-01T00:00:00+00:00", "default_pool"],
  },
  {
    line: "airflow users create --username admin --password AdminPass123 --role Admin --email a@b.c",
    secrets: ["AdminPass123"],
    keep: ["--username", "admin", "--role", "Admin"],
  },
  {
    line: "psql -h db.internal -p 5432 -U etl -d warehouse -c select 1",
    secrets: [],
    keep: ["5432", "-U", "etl", "warehouse"],
  },
  {
    line: "PGPASSWORD=pgs3cretValue psql -h db -U etl warehouse",
    secrets: ["pgs3cretValue"],
    keep: ["PGPASSWORD=", "psql", "etl"],
  },
  {
    line: "psql postgresql://etl:hunter2hunter2@db:5432/warehouse?sslmode=require",
    secrets: ["hunter2hunter2"],
    keep: ["postgresql://etl:", "@db:5432/warehouse?sslmode=require"],
  },
  {
    line: "mysql -u root -pMyR00tPw! -h mysql.local orders",
    secrets: ["MyR00tPw!"],
    keep: ["-u", "root", "mysql.local", "orders"],
  },
  {
    line: "mysqldump --user=backup --password=Dump!Pw2024 --single-transaction shop",
    secrets: ["Dump!Pw2024"],
    keep: ["--user=backup", "--single-transaction", "shop"],
  },
  { line: "mysql -u root -p -P 3306 orders", secrets: [], keep: ["-p", "3306", "orders"] },
  {
    line: 'curl -s -H "Authorization: Bearer abcDEF123456ghiJKL789" https://api.example.com/v1/items',
    secrets: ["abcDEF123456ghiJKL789"],
    keep: ["curl", "Authorization: Bearer", "https://api.example.com/v1/items"],
  },
  {
    line: "curl -u deploy:curlPa55word https://nexus.local/repository/raw/",
    secrets: ["curlPa55word"],
    keep: ["deploy:", "https://nexus.local/repository/raw/"],
  },
  {
    line: 'curl -H "X-Api-Key: k3y-0f-the-api-9000" https://api.example.com',
    secrets: ["k3y-0f-the-api-9000"],
    keep: ["X-Api-Key:", "https://api.example.com"],
  },
  {
    line: "curl https://hooks.slack.com/services/T000/B000?token=xyzTokenValue42&channel=ops",
    secrets: ["xyzTokenValue42"],
    keep: ["channel=ops"],
  },
  {
    line: "aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    secrets: [AWS_SECRET],
    keep: ["aws", "configure", "aws_secret_access_key"],
  },
  {
    line: "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY aws s3 cp s3://bucket/key .",
    secrets: [AWS_ID, AWS_SECRET],
    keep: ["aws", "s3://bucket/key"],
  },
  {
    line: "AWS_SESSION_TOKEN=FwoGZXIvYXdzEBYaDHqa0AP1/fakeSessionTokenValue aws sts get-caller-identity",
    secrets: ["FwoGZXIvYXdzEBYaDHqa0AP1/fakeSessionTokenValue"],
    keep: ["get-caller-identity"],
  },
  {
    line: `aws sts assume-role --role-arn arn:aws:iam::123456789012:role/etl --role-session-name etl ${STS_ID}`,
    secrets: [STS_ID],
    keep: ["arn:aws:iam::123456789012:role/etl"],
  },
  {
    line: "spark-submit --master yarn --conf spark.hadoop.fs.s3a.access.key=AKIAIOSFODNN7EXAMPLE --conf spark.hadoop.fs.s3a.secret.key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY --conf spark.executor.memory=4g job.py",
    secrets: [AWS_ID, AWS_SECRET],
    keep: ["spark.executor.memory=4g", "job.py", "spark.hadoop.fs.s3a.secret.key="],
  },
  {
    line: "spark-submit --conf spark.hadoop.fs.azure.account.key.acct.blob.core.windows.net=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA== app.jar",
    secrets: ["Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="],
    keep: ["app.jar"],
  },
  {
    line: "docker login -u ci -p D0ckerHubPw registry.example.com",
    secrets: ["D0ckerHubPw"],
    keep: ["-u", "ci", "registry.example.com"],
  },
  {
    line: "docker run -p 8080:80 -e POSTGRES_PASSWORD=pgDockerPw -e POSTGRES_DB=app postgres:15",
    secrets: ["pgDockerPw"],
    keep: ["8080:80", "POSTGRES_DB=app", "postgres:15"],
  },
  {
    line: "docker run --env=MINIO_ROOT_PASSWORD=minioR00tPw minio/minio server /data",
    secrets: ["minioR00tPw"],
    keep: ["minio/minio", "/data"],
  },
  {
    line: "sshpass -p SshPa55 ssh deploy@bastion uptime",
    secrets: ["SshPa55"],
    keep: ["deploy@bastion", "uptime"],
  },
  { line: "redis-cli -h cache -a R3disAuthPw ping", secrets: ["R3disAuthPw"], keep: ["cache", "ping"] },
  {
    line: "mongosh mongodb://admin:M0ngoPw@mongo:27017/admin --eval db.stats()",
    secrets: ["M0ngoPw"],
    keep: ["mongodb://admin:", "@mongo:27017/admin"],
  },
  {
    line: "python etl.py --api-key sk_live_4eC39HqLyjWDarjtT1zdp7dc --batch-size 500",
    secrets: ["sk_live_4eC39HqLyjWDarjtT1zdp7dc"],
    keep: ["etl.py", "--batch-size", "500"],
  },
  {
    line: "python train.py --max-key-length 5 --sort-key ts --token-file /run/secrets/token --max-tokens 256",
    secrets: [],
    keep: ["--max-key-length", "5", "--sort-key", "ts", "/run/secrets/token", "256"],
  },
  {
    line: "python sync.py --client-secret=Cl1entS3cretXYZ --client-id=abc-123",
    secrets: ["Cl1entS3cretXYZ"],
    keep: ["--client-id=abc-123"],
  },
  {
    line: "java -Djavax.net.ssl.keyStorePassword=KeyStor3Pw -Xmx2g -jar loader.jar",
    secrets: ["KeyStor3Pw"],
    keep: ["-Xmx2g", "loader.jar"],
  },
  {
    line: "keytool -importcert -storepass St0rePassw -alias root -file ca.pem",
    secrets: ["St0rePassw"],
    keep: ["-alias", "root", "ca.pem"],
  },
  {
    line: "openssl pkcs12 -export -passout pass:P12Export! -in cert.pem -out cert.p12",
    secrets: ["P12Export!"],
    keep: ["cert.pem", "cert.p12"],
  },
  {
    line: `git clone https://x-access-token:${GH}@github.com/org/repo.git`,
    secrets: [GH],
    keep: ["github.com/org/repo.git"],
  },
  {
    line: `gh api -H "Authorization: token ${GH_PAT}" /repos/org/repo`,
    secrets: [GH_PAT],
    keep: ["/repos/org/repo"],
  },
  { line: `GITHUB_TOKEN=${GH} gh pr create --fill`, secrets: [GH], keep: ["gh", "pr", "create"] },
  { line: `python notify.py --webhook-token ${SLACK} --channel #etl`, secrets: [SLACK], keep: ["#etl"] },
  { line: `python notify.py ${SLACK}`, secrets: [SLACK], keep: ["notify.py"] },
  { line: `python call.py --header "Authorization: Bearer ${JWT}"`, secrets: [JWT], keep: ["call.py"] },
  { line: `python call.py --jwt ${JWT}`, secrets: [JWT], keep: ["--jwt"] },
  {
    line: `az storage blob upload --connection-string "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${AZURE_KEY};EndpointSuffix=core.windows.net" -f x.csv`,
    secrets: [AZURE_KEY],
    keep: ["AccountName=acct", "x.csv"],
  },
  {
    line: "azcopy copy data.csv https://acct.blob.core.windows.net/c/data.csv?sv=2022-11-02&sig=AbCdEf%2BGhIjKl%3D&se=2024",
    secrets: ["AbCdEf%2BGhIjKl%3D"],
    keep: ["sv=2022-11-02", "data.csv"],
  },
  {
    line: `gcloud auth activate-service-account --key-file=/secrets/sa.json`,
    secrets: [],
    keep: ["--key-file=/secrets/sa.json"],
  },
  {
    line: 'python -c {"type": "service_account", "private_key_id": "abc", "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n", "client_email": "sa@p.iam.gserviceaccount.com"}',
    secrets: ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"],
    keep: ["service_account", "sa@p.iam.gserviceaccount.com"],
  },
  {
    line: "bash -c \"mysql -u etl -pInl1neSecret -e 'select 1' && echo done\"",
    secrets: ["Inl1neSecret"],
    keep: ["bash", "echo done"],
  },
  {
    line: 'sh -c "PGPASSWORD=ShellPgPw pg_dump -h db shop > /tmp/shop.sql"',
    secrets: ["ShellPgPw"],
    keep: ["pg_dump", "/tmp/shop.sql"],
  },
  {
    line: "env DB_PASSWORD=EnvDbPw SECRET_KEY=djang0Secr3t DEBUG=0 gunicorn app:wsgi",
    secrets: ["EnvDbPw", "djang0Secr3t"],
    keep: ["DEBUG=0", "gunicorn", "app:wsgi"],
  },
  {
    line: "prefect cloud login --key pnu_abcdefghijklmnopqrstuvwxyz0123456789 --workspace org/ws",
    secrets: ["pnu_abcdefghijklmnopqrstuvwxyz0123456789"],
    keep: ["--workspace", "org/ws"],
  },
  {
    line: 'dbt run --vars "{db_password: DbtVarPw9, target: prod}"',
    secrets: ["DbtVarPw9"],
    keep: ["target: prod}"],
  },
  {
    line: "kubectl create secret generic db --from-literal=password=KubeLit3ral --namespace etl",
    secrets: ["KubeLit3ral"],
    keep: ["--namespace", "etl"],
  },
  {
    line: "wget --http-user=ops --http-password=WgetPw77 https://files.local/a.tgz",
    secrets: ["WgetPw77"],
    keep: ["--http-user=ops", "https://files.local/a.tgz"],
  },
  {
    line: "git -C /repo log -1 --format=%H 3f786850e387550fdab836ed7e6dc881de23001b",
    secrets: [],
    keep: ["3f786850e387550fdab836ed7e6dc881de23001b"],
  },
  {
    line: "pip install --index-url https://__token__:pypiTok3nValue@pypi.internal/simple pandas",
    secrets: ["pypiTok3nValue"],
    keep: ["pypi.internal/simple", "pandas"],
  },
  {
    line: "git clone https://4b825dc642cb6eb9a060e54bf8d69288fbee4904:x-oauth-basic@github.com/org/private.git",
    secrets: ["4b825dc642cb6eb9a060e54bf8d69288fbee4904"],
    keep: ["github.com/org/private.git"],
  },
  {
    line: "git clone https://fdecbbaacdefeebadcfbaefdacebfadcbeafdceb@github.com/org/private.git /work/repo",
    secrets: ["fdecbbaacdefeebadcfbaefdacebfadcbeafdceb"],
    keep: ["github.com/org/private.git", "/work/repo"],
  },
  {
    line: "git -C /srv/dags pull ssh://svc_airflow_worker01@git.internal/data/etl-dags.git main",
    secrets: [],
    keep: ["svc_airflow_worker01@git.internal"],
  },
  {
    line: "httpie POST https://api.local/login password=FormPw123 username=bob",
    secrets: ["FormPw123"],
    keep: ["username=bob"],
  },
  {
    line: "python load.py --auth admin:HttpAuthPw --no-password --password-stdin --retries 3",
    secrets: ["HttpAuthPw"],
    keep: ["--no-password", "--password-stdin", "--retries", "3"],
  },
];

describe("redaction corpus", () => {
  it("has at least 40 realistic command lines", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
  });

  it.each(corpus)("$line", ({ line, secrets, keep }) => {
    const argv = words(line);
    const fromArgv = redactArgv(argv).join(" ");
    const fromText = redactText(line);
    for (const output of [fromArgv, fromText]) {
      for (const secret of secrets) expect(output).not.toContain(secret);
      for (const part of keep) expect(output).toContain(part);
      if (secrets.length > 0) expect(output).toContain(REDACTED);
    }
    if (secrets.length === 0) {
      expect(fromArgv).toBe(argv.join(" "));
      expect(fromText).toBe(line);
    }
  });
});

describe("isSecretName", () => {
  it.each([
    "password",
    "--password",
    "PGPASSWORD",
    "MYSQL_PWD",
    "db_pass",
    "client_secret",
    "secretAccessKey",
    "aws_secret_access_key",
    "X-Api-Key",
    "apikey",
    "access_token",
    "authToken",
    "key",
    "--ssh-key",
    "spark.hadoop.fs.s3a.secret.key",
    "AccountKey",
    "credentials",
    "Authorization",
    "sig",
  ])("%s is secret", (name) => expect(isSecretName(name)).toBe(true));

  it.each([
    "--max-key-length",
    "--sort-key",
    "partition_key",
    "--token-file",
    "--password-file",
    "--no-password",
    "--ask-password",
    "max_tokens",
    "--keyspace",
    "username",
    "--user",
    "private_key_id",
    "--secret-name",
    "--auth-type",
    "",
  ])("%s is not secret", (name) => expect(isSecretName(name)).toBe(false));
});

describe("redaction properties", () => {
  // Secrets from the characters real passwords use, minus the shell and URL separators the templates need.
  const secret = fc
    .stringMatching(/^[A-Za-z0-9!#$%^*+_.~-]{8,40}$/)
    .filter((value) => /[A-Za-z0-9]{3}/.test(value) && !value.startsWith("-"));
  const templates: Array<(s: string) => string[]> = [
    (s) => ["psql", "--password", s],
    (s) => ["app", `--password=${s}`],
    (s) => [`PGPASSWORD=${s}`, "psql", "-h", "db"],
    (s) => ["mysql", "-u", "root", `-p${s}`],
    (s) => ["sshpass", "-p", s, "ssh", "host"],
    (s) => ["psql", `postgres://user:${s}@db:5432/x`],
    (s) => ["curl", "-H", `Authorization: Bearer ${s}`, "https://x"],
    (s) => ["curl", "-u", `user:${s}`, "https://x"],
    (s) => ["spark-submit", "--conf", `spark.hadoop.fs.s3a.secret.key=${s}`],
    (s) => ["docker", "login", "-p", s, "registry"],
    (s) => ["bash", "-c", `mysql -pX${s} db && PGPASSWORD=${s} psql`],
    (s) => ["python", "x.py", "--api-key", s],
    (s) => ["env", `CLIENT_SECRET=${s}`, "run"],
  ];

  it("no secret survives in any template, through argv or as text", () => {
    fc.assert(
      fc.property(secret, fc.nat(templates.length - 1), (value, index) => {
        const argv = templates[index]!(value);
        const redacted = redactArgv(argv).join(" ");
        const text = redactText(argv.join(" "));
        return !redacted.includes(value) && !text.includes(value);
      }),
      { numRuns: 2_000 },
    );
  });

  it("text without secret-looking names or token shapes is left as it is", () => {
    const plain = fc
      .array(
        fc
          .stringMatching(/^[a-z]{1,8}$/)
          .filter((word) => !isSecretName(word) && !/^(bearer|basic)$/.test(word)),
        {
          minLength: 1,
          maxLength: 12,
        },
      )
      .map((list) => list.join(" "));
    fc.assert(fc.property(plain, (text) => redactText(text) === text));
  });

  it("is idempotent", () => {
    fc.assert(
      fc.property(secret, fc.nat(templates.length - 1), (value, index) => {
        const once = redactArgv(templates[index]!(value));
        return JSON.stringify(redactArgv(once)) === JSON.stringify(once);
      }),
    );
  });
});

/** The command-line corpus (redact-corpus.json): argv, its expected stored form, the secrets in it. */
export interface CorpusEntry {
  argv: string[];
  redacted: string[];
  secrets: string[];
}
const corpusFile: CorpusEntry[] = JSON.parse(
  readFileSync(new URL("./redact-corpus.json", import.meta.url), "utf8"),
) as CorpusEntry[];

describe("redaction corpus file", () => {
  it("holds at least 100 command lines, a third of them harmless look-alikes", () => {
    expect(corpusFile.length).toBeGreaterThanOrEqual(100);
    expect(corpusFile.filter((entry) => entry.secrets.length === 0).length).toBeGreaterThanOrEqual(33);
  });

  it.each(corpusFile.map((entry) => [entry.argv.join(" "), entry] as const))("%s", (_, entry) => {
    expect(redactArgv(entry.argv)).toEqual(entry.redacted);
    if (entry.secrets.length === 0) expect(entry.redacted).toEqual(entry.argv);
    // The same line as one string (a process title, `sh -c "…"`) leaks none of them either.
    const asText = redactText(entry.argv.join(" "));
    for (const secret of entry.secrets) {
      expect(entry.redacted.join(" ")).not.toContain(secret);
      expect(asText).not.toContain(secret);
    }
  });
});

describe("redaction cost and caps", () => {
  const MB = 1024 * 1024;
  // Runs that made a pattern restart a long scan at every position (URL credentials and name=value
  // names took seconds at 63 KB), and the openings of every other rule, repeated to 1 MB.
  const adversarial = [
    "a-",
    "a.",
    "a://",
    "a://b:",
    "x=y ",
    "-xoxb-",
    "-glpat-",
    "eyJaaaaaaaaaa-",
    "-ya29.",
    "Bearer aaaaaaaa-",
    '"a":"',
    "'password': ",
    '\\"password\\": \\"',
    "password '",
    "identified by ",
    "authorization: ",
    "cookie: ",
    "environ['",
    "-----BEGIN PRIVATE KEY-----",
    "hooks.slack.com/services/",
    "a@",
    "AAAAAAAA",
  ];

  // No timing assertion: a pattern that backtracks takes hours on these, and the generous timeout only
  // keeps a loaded machine from failing a linear run.
  it.each(adversarial)("redacts a 1 MB run of %j followed by a secret", { timeout: 120_000 }, (piece) => {
    const text = `${piece.repeat(Math.ceil(MB / piece.length))} --password Adv3rsarialPw`;
    const out = redactText(text);
    expect(out).not.toContain("Adv3rsarialPw");
    // The run itself is text, not a secret (except where it opens one that runs to the end of the text:
    // a PEM key, a cookie header, a webhook's path).
    if (!/BEGIN|cookie|hooks/.test(piece)) expect(out.length).toBeGreaterThan(MB / 2);
  });

  it("scans and stores a bounded part of each argument and says how much was left out", () => {
    const long = `password=Cap5ecret ${"x".repeat(MB)}`;
    const [stored] = redactArgv(["python", long]).slice(1);
    expect(stored).not.toContain("Cap5ecret");
    expect(stored!.startsWith(`password=${REDACTED} xxx`)).toBe(true);
    const kept = stored!.indexOf("…[");
    expect(kept).toBeLessThanOrEqual(MAX_STORED_ARGUMENT);
    expect(stored!.slice(kept)).toBe(`…[${long.length - kept} more characters]`);
    // Short arguments are stored whole.
    expect(redactArgv(["echo", "x".repeat(MAX_STORED_ARGUMENT)])[1]).toBe("x".repeat(MAX_STORED_ARGUMENT));
  });

  it("scans a bounded number of arguments and counts the rest", () => {
    const argv = ["xargs", ...Array.from({ length: 5_000 }, (_, index) => `file-${index}.csv`)];
    const out = redactArgv(argv);
    expect(out.length).toBeLessThan(argv.length);
    expect(out.slice(0, -1)).toEqual(argv.slice(0, out.length - 1));
    expect(out.at(-1)).toBe(`…[${argv.length - out.length + 1} more arguments]`);
  });

  it("never stores part of a token that straddles the stored length", () => {
    const token = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";
    for (const offset of [8, 20, 30]) {
      const argument = `${"y".repeat(MAX_STORED_ARGUMENT - offset)} ${token} ${"z".repeat(MAX_SCANNED_ARGUMENT)}`;
      const stored = redactArgv([argument])[0]!;
      expect(stored).not.toContain(token.slice(0, 8));
    }
  });
});

describe("PEM keys in a NAME=value word", () => {
  const body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
  const pem = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----`;

  it("hides the key's body in a shell script", () => {
    const [, , script] = redactArgv(["sh", "-c", `SSH_PRIVATE_KEY=${pem} ./deploy.sh`]);
    expect(script).not.toContain(body);
    expect(script).toContain("./deploy.sh");
  });

  it("hides the key's body when the pair is an argument of its own", () => {
    const out = redactArgv(["env", `SSH_PRIVATE_KEY=${pem}`, "ssh-add", "-"]);
    expect(out.join(" ")).not.toContain(body);
    expect(out.slice(2)).toEqual(["ssh-add", "-"]);
  });
});
