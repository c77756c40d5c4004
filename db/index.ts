/** The db room: schema, client factory, migrations and one query module per family. */
export * from "./client.js";
export * from "./migrate.js";
export * from "./queries/declared-requests.js";
export * from "./queries/execution-commands.js";
export * from "./queries/executions.js";
export * from "./queries/hosts.js";
export * from "./queries/partitions.js";
export * from "./queries/processes.js";
export * from "./queries/profiles.js";
export * from "./queries/report-runs.js";
export * from "./queries/retention.js";
export * from "./queries/samples.js";
export * as schema from "./schema.js";
