import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { ConfigError, describeError } from "./errors.js";
import { createLogger } from "./logger.js";
import { maskUrlCredentials, maskUrlValue, maskValue, REDACTED } from "./mask-secrets.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function yamlFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "rightsize-config-")), "rightsize.yaml");
  writeFileSync(file, text);
  return file;
}

/** The message loadConfig throws for these inputs (fails the test when it does not throw). */
function configError(options: Parameters<typeof loadConfig>[0]): string {
  try {
    loadConfig(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("URL masking", () => {
  it.each([
    ["postgres://etl:PgS3cret@db:5432/warehouse", "postgres://etl:***@db:5432/warehouse"],
    ["redis://:R3disPw@cache:6379/0", "redis://:***@cache:6379/0"],
    ["smtps://mailer:p@ss/w0rd@mail.example.com:465", "smtps://mailer:***@ss/w0rd@mail.example.com:465"],
    ["https://ghp_a1B2c3D4e5F6g7H8i9J0@github.com/o/r", "https://***@github.com/o/r"],
    ["https://git@github.com/o/r", "https://git@github.com/o/r"],
    ["https://svc_airflow_worker01@git.internal/r", "https://svc_airflow_worker01@git.internal/r"],
    [
      "https://9f2c4e1a7b3d5f60812e4c9a0b7d3f5e2a1c8b46:x-oauth-basic@github.com/o/r",
      "https://***:***@github.com/o/r",
    ],
    ["connect postgres://a:b@h and redis://c:d@r", "connect postgres://a:***@h and redis://c:***@r"],
  ])("%s", (input, output) => expect(maskUrlCredentials(input)).toBe(output));

  it("masks the user part of malformed URL values, which the URL rule may not see", () => {
    expect(maskUrlValue("smtp//mailer:SmtpS3cret@mail:587")).toBe("smtp//mailer:***@mail:587");
    expect(maskUrlValue("smtp://mailer:p@ss@mail:587")).toBe("smtp://mailer:***@mail:587");
    expect(maskUrlValue("mailer:SmtpS3cret@mail:587")).toBe("mailer:***@mail:587");
    expect(maskUrlValue("localhost:6379")).toBe("localhost:6379");
    expect(maskUrlValue("https://9f2c4e1a7b3d5f60812e4c9a0b7d3f5e2a1c8b46:x-oauth-basic@github.com")).toBe(
      "https://***:***@github.com",
    );
  });

  it("masks the values of secret-named fields whole", () => {
    expect(maskValue("GITHUB_TOKEN", "ghp_x")).toBe(REDACTED);
    expect(maskValue("github.token", "abc")).toBe(REDACTED);
    expect(maskValue("db_password", "abc")).toBe(REDACTED);
    expect(maskValue("email.from", "a@b.c")).toBe("a@b.c");
  });
});

describe("config errors never print a secret", () => {
  const secret = "Sup3rS3cretValue";
  it.each([
    ["SMTP_URL", `smtp//mailer:${secret}@mail:587`, "email.smtpUrl"],
    ["SMTP_URL", `http://mailer:${secret}@mail:587`, "email.smtpUrl"],
    ["SMTP_URL", `mailer:${secret}@mail.example.com`, "email.smtpUrl"],
    ["REDIS_URL", `redis//:${secret}@cache:6379`, "redis.url"],
    ["REDIS_URL", `http://default:${secret}@cache:6379`, "redis.url"],
  ])("%s = %s", (variable, value, key) => {
    const message = configError({ env: { [variable]: value } });
    expect(message).toContain(key);
    expect(message).toContain(`from ${variable}`);
    expect(message).not.toContain(secret);
    expect(message).toContain(REDACTED);
  });

  it.each([
    [`email:\n  smtpUrl: "ftp://mailer:${secret}@mail"\n`, "email.smtpUrl", 2],
    [`redis:\n  url: "tcp://:${secret}@cache"\n`, "redis.url", 2],
    [`github:\n  token: [${secret}]\n`, "github.token", 2],
    [`database:\n  url: [postgres://etl:${secret}@db/x]\n`, "database.url", 2],
    [`github:\n  apiUrl: 12\n  token: {value: ${secret}}\n`, "github.token", 3],
  ])("a bad value in the file: %j", (text, key, line) => {
    const file = yamlFile(text);
    const message = configError({ file, env: {} });
    expect(message).toContain(`${key} = `);
    expect(message).toContain(`at ${file}:${line}`);
    expect(message).not.toContain(secret);
  });

  it("broken YAML holding a secret names the line, not the secret", () => {
    const file = yamlFile(`email:\n  smtpUrl: "smtp://u:${secret}@mail\n`);
    const message = configError({ file, env: {} });
    expect(message).toContain(file);
    expect(message).not.toContain(secret);
  });

  it("describeError masks URL passwords in an error and its causes", () => {
    const error = new Error("cannot open the database", {
      cause: new Error(`connect ECONNREFUSED postgres://etl:${secret}@db:5432/x`),
    });
    expect(describeError(error)).toBe(
      "cannot open the database: connect ECONNREFUSED postgres://etl:***@db:5432/x",
    );
  });
});

describe("log lines never carry a secret", () => {
  function capture(): { lines: () => string; stream: Writable } {
    let text = "";
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        text += String(chunk);
        callback();
      },
    });
    return { lines: () => text, stream };
  }
  const secret = "L0gS3cretValue";

  it("masks URL passwords in fields, nested objects, errors and the message, and secret fields whole", () => {
    const { lines, stream } = capture();
    const logger = createLogger("info", false, stream);
    logger.info({ url: `postgres://etl:${secret}@db:5432/warehouse` }, "opening the database");
    logger.info(
      { database: { url: `postgres://etl:${secret}@db/x` }, smtp: `smtp://u:${secret}@mail` },
      "ok",
    );
    logger.warn(`retrying redis://:${secret}@cache:6379 in 1 s`);
    logger.warn("connecting to %s", `postgres://etl:${secret}@db/x`);
    logger.error({ err: new Error(`connect ECONNREFUSED postgres://etl:${secret}@db:5432/x`) }, "failed");
    logger.error(new Error(`lost redis://:${secret}@cache`));
    logger.info({ password: secret, githubToken: secret, headers: { authorization: `Bearer ${secret}` } });
    logger.info({ job: { token: secret }, list: [`https://u:${secret}@h`] }, "nested");
    logger.info({ config: { github: { token: secret } } }, "deep");
    const text = lines();
    expect(text.trim().split("\n")).toHaveLength(9);
    expect(text).not.toContain(secret);
    expect(text).toContain("postgres://etl:***@db:5432/warehouse");
    expect(text).toContain('"password":"***"');
  });
});

describe("error lines", () => {
  it("stay one line, so a name cannot start a workflow command on stderr", () => {
    const error = new Error("cannot read dags/x\n::error::pwned.py", { cause: new Error("a\r\nb") });
    expect(describeError(error)).toBe("cannot read dags/x\\n::error::pwned.py: a\\r\\nb");
  });
});
