ALTER TABLE "agents" ADD COLUMN "working_as" text;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "rebooting_at" timestamp with time zone;