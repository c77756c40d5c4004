CREATE TABLE "analyses" (
	"window_end" timestamp with time zone PRIMARY KEY NOT NULL,
	"window_days" real NOT NULL,
	"tasks" integer NOT NULL,
	"empty_reason" text,
	"computed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "report_runs" ADD COLUMN "delivery_key" text;