CREATE TABLE "report_deliveries" (
	"delivery_key" text NOT NULL,
	"channel" text NOT NULL,
	"status" text NOT NULL,
	"error" text,
	"attempts" integer DEFAULT 1 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "report_deliveries_delivery_key_channel_pk" PRIMARY KEY("delivery_key","channel")
);
