CREATE TABLE "execution_commands" (
	"execution_id" uuid NOT NULL,
	"command" text NOT NULL,
	"processes" integer NOT NULL,
	"cpu_seconds" double precision NOT NULL,
	"peak_rss_bytes" bigint NOT NULL,
	"read_bytes" bigint,
	"write_bytes" bigint,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	CONSTRAINT "execution_commands_execution_id_command_pk" PRIMARY KEY("execution_id","command")
);
--> statement-breakpoint
ALTER TABLE "task_executions" ADD COLUMN "processes_pruned_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "task_executions_started" ON "task_executions" USING btree ("started_at");--> statement-breakpoint
CREATE INDEX "task_executions_processes_kept" ON "task_executions" USING btree ("started_at") WHERE "task_executions"."processes_pruned_at" is null;