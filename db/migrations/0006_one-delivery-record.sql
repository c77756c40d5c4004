ALTER TABLE "report_deliveries" ADD COLUMN "report_run_id" integer;--> statement-breakpoint
ALTER TABLE "report_deliveries" ADD CONSTRAINT "report_deliveries_report_run_id_report_runs_id_fk" FOREIGN KEY ("report_run_id") REFERENCES "public"."report_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- The email's once-only record moves from report_runs.delivery_key to report_deliveries (channel 'email'),
-- where Slack's already is. Per delivery key: sent if any attempt sent it (that attempt's run), else the
-- latest failure; attempts counts the attempts that got as far as sending. Pending and skipped runs
-- never sent, so they are not a delivery (as before, a retry sends them).
INSERT INTO "report_deliveries" ("delivery_key", "channel", "status", "error", "attempts", "updated_at", "report_run_id")
SELECT DISTINCT ON ("delivery_key")
       "delivery_key", 'email', "email_status", "email_error",
       count(*) OVER (PARTITION BY "delivery_key"), "generated_at", "id"
FROM "report_runs"
WHERE "delivery_key" IS NOT NULL AND "email_status" IN ('sent', 'failed')
ORDER BY "delivery_key", ("email_status" = 'sent') DESC, "id" DESC
ON CONFLICT ("delivery_key", "channel") DO NOTHING;
