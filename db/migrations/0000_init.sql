CREATE TABLE "declared_requests" (
	"id" serial PRIMARY KEY NOT NULL,
	"repo" text NOT NULL,
	"file" text NOT NULL,
	"line" integer NOT NULL,
	"column" integer NOT NULL,
	"orchestrator" text NOT NULL,
	"pipeline" text NOT NULL,
	"task" text NOT NULL,
	"resource" text NOT NULL,
	"kind" text NOT NULL,
	"raw" text NOT NULL,
	"unit" text,
	"value" double precision,
	"dynamic" boolean DEFAULT false NOT NULL,
	"pattern" text NOT NULL,
	"scanned_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "execution_processes" (
	"execution_id" uuid NOT NULL,
	"pid" integer NOT NULL,
	"start_ticks" bigint NOT NULL,
	"ppid" integer,
	"command" text NOT NULL,
	"argv" text,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"cpu_seconds" double precision DEFAULT 0 NOT NULL,
	"peak_rss_bytes" bigint DEFAULT 0 NOT NULL,
	"read_bytes" bigint,
	"write_bytes" bigint,
	"exited" boolean DEFAULT false NOT NULL,
	CONSTRAINT "execution_processes_execution_id_pid_start_ticks_pk" PRIMARY KEY("execution_id","pid","start_ticks")
);
--> statement-breakpoint
CREATE TABLE "hosts" (
	"id" text PRIMARY KEY NOT NULL,
	"hostname" text NOT NULL,
	"cores" integer,
	"memory_bytes" bigint,
	"os" text,
	"kernel" text,
	"cgroup_version" integer,
	"inventory" jsonb,
	"first_seen" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recommendations" (
	"orchestrator" text NOT NULL,
	"pipeline" text NOT NULL,
	"task" text NOT NULL,
	"window_end" timestamp with time zone NOT NULL,
	"cpu_cores" double precision NOT NULL,
	"memory_bytes" bigint NOT NULL,
	"confidence" text NOT NULL,
	"severity" text NOT NULL,
	"monthly_savings_usd" double precision,
	"reason" text NOT NULL,
	"computed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "recommendations_orchestrator_pipeline_task_window_end_pk" PRIMARY KEY("orchestrator","pipeline","task","window_end")
);
--> statement-breakpoint
CREATE TABLE "report_runs" (
	"id" serial PRIMARY KEY NOT NULL,
	"window_end" timestamp with time zone NOT NULL,
	"generated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"html_path" text,
	"markdown_path" text,
	"email_status" text,
	"email_error" text,
	"tasks" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "samples" (
	"execution_id" uuid NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"interval_seconds" real NOT NULL,
	"cpu_cores" real,
	"cpu_seconds_total" double precision,
	"rss_bytes" bigint,
	"disk_read_bytes" bigint,
	"disk_write_bytes" bigint,
	"net_rx_bytes" bigint,
	"net_tx_bytes" bigint,
	"on_cpu_seconds" real,
	"cpu_wait_seconds" real,
	"disk_wait_seconds" real,
	"net_wait_seconds" real,
	"child_wait_seconds" real,
	"idle_seconds" real,
	"threads" integer,
	"processes_alive" integer,
	"processes_started" integer,
	"throttled_periods" integer,
	"total_periods" integer,
	"throttled_seconds" real,
	"oom_kills" integer,
	"psi_cpu_some" real,
	"psi_memory_some" real,
	"psi_io_some" real,
	"host_load1" real,
	CONSTRAINT "samples_execution_id_ts_pk" PRIMARY KEY("execution_id","ts")
) PARTITION BY RANGE ("ts");
--> statement-breakpoint
CREATE TABLE "task_executions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"orchestrator" text NOT NULL,
	"pipeline" text NOT NULL,
	"task" text NOT NULL,
	"run_id" text NOT NULL,
	"try_number" integer DEFAULT 1 NOT NULL,
	"map_index" integer DEFAULT -1 NOT NULL,
	"host_id" text NOT NULL,
	"attribution" text NOT NULL,
	"root_pid" integer,
	"root_start_ticks" bigint,
	"cgroup_path" text,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	"exit_code" integer,
	"status" text DEFAULT 'running' NOT NULL,
	"request_cpu_cores" double precision,
	"limit_cpu_cores" double precision,
	"cpu_source" text,
	"request_memory_bytes" bigint,
	"limit_memory_bytes" bigint,
	"memory_source" text,
	"endpoints" jsonb
);
--> statement-breakpoint
CREATE TABLE "task_profiles" (
	"orchestrator" text NOT NULL,
	"pipeline" text NOT NULL,
	"task" text NOT NULL,
	"window_end" timestamp with time zone NOT NULL,
	"window_days" real NOT NULL,
	"runs" integer NOT NULL,
	"bottleneck" text NOT NULL,
	"document" jsonb NOT NULL,
	"computed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "task_profiles_orchestrator_pipeline_task_window_end_pk" PRIMARY KEY("orchestrator","pipeline","task","window_end")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "declared_requests_identity" ON "declared_requests" USING btree ("repo","orchestrator","pipeline","task","resource","kind");--> statement-breakpoint
CREATE UNIQUE INDEX "task_executions_identity" ON "task_executions" USING btree ("orchestrator","pipeline","task","run_id","try_number","map_index","host_id");--> statement-breakpoint
CREATE INDEX "task_executions_task_started" ON "task_executions" USING btree ("orchestrator","pipeline","task","started_at");--> statement-breakpoint
CREATE INDEX "task_executions_open" ON "task_executions" USING btree ("host_id") WHERE "task_executions"."ended_at" is null;