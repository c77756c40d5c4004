ALTER TABLE "task_executions" ADD COLUMN "tree_cpu_seconds" double precision;--> statement-breakpoint
ALTER TABLE "task_executions" ADD COLUMN "reference_cpu_seconds" double precision;--> statement-breakpoint
ALTER TABLE "task_executions" ADD COLUMN "reference_cpu_source" text;