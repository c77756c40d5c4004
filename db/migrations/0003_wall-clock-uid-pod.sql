ALTER TABLE "run_summaries" ADD COLUMN "wall_on_cpu_seconds" double precision;--> statement-breakpoint
ALTER TABLE "run_summaries" ADD COLUMN "wall_cpu_wait_seconds" double precision;--> statement-breakpoint
ALTER TABLE "run_summaries" ADD COLUMN "wall_disk_wait_seconds" double precision;--> statement-breakpoint
ALTER TABLE "run_summaries" ADD COLUMN "wall_net_wait_seconds" double precision;--> statement-breakpoint
ALTER TABLE "run_summaries" ADD COLUMN "wall_child_wait_seconds" double precision;--> statement-breakpoint
ALTER TABLE "run_summaries" ADD COLUMN "wall_idle_seconds" double precision;--> statement-breakpoint
ALTER TABLE "samples" ADD COLUMN "wall_on_cpu_seconds" real;--> statement-breakpoint
ALTER TABLE "samples" ADD COLUMN "wall_cpu_wait_seconds" real;--> statement-breakpoint
ALTER TABLE "samples" ADD COLUMN "wall_disk_wait_seconds" real;--> statement-breakpoint
ALTER TABLE "samples" ADD COLUMN "wall_net_wait_seconds" real;--> statement-breakpoint
ALTER TABLE "samples" ADD COLUMN "wall_child_wait_seconds" real;--> statement-breakpoint
ALTER TABLE "samples" ADD COLUMN "wall_idle_seconds" real;--> statement-breakpoint
ALTER TABLE "task_executions" ADD COLUMN "uid" integer;--> statement-breakpoint
ALTER TABLE "task_executions" ADD COLUMN "pod_uid" text;