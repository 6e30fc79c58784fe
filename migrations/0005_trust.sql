CREATE TABLE "site_settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" uuid
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"actor_type" "actor_type" NOT NULL,
	"actor_id" uuid,
	"target_type" text,
	"target_id" text,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	"key_id" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "access_tokens" ADD COLUMN "revoked_reason" text;--> statement-breakpoint
ALTER TABLE "access_tokens" ADD COLUMN "scopes" text[] DEFAULT '{read}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "access_tokens" ADD COLUMN "last_used_ip" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "totp_secret" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "totp_pending_secret" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "totp_enabled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "totp_recovery_codes" jsonb;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "totp_last_step" integer;--> statement-breakpoint
ALTER TABLE "script_versions" ADD COLUMN "signature" text;--> statement-breakpoint
ALTER TABLE "script_versions" ADD COLUMN "signature_key_id" text;--> statement-breakpoint
ALTER TABLE "session_events" ADD COLUMN "prev_hash" text;--> statement-breakpoint
ALTER TABLE "session_events" ADD COLUMN "hash" text;--> statement-breakpoint
ALTER TABLE "session_events" ADD COLUMN "key_id" text;--> statement-breakpoint
ALTER TABLE "support_sessions" ADD COLUMN "admit_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "support_sessions" ADD COLUMN "admitted_by" uuid;--> statement-breakpoint
ALTER TABLE "script_runs" ADD COLUMN "output_next_seq" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "site_settings" ADD CONSTRAINT "site_settings_updated_by_users_id_fk" FOREIGN KEY ("updated_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_events_target_idx" ON "audit_events" USING btree ("target_type","target_id","id");--> statement-breakpoint
ALTER TABLE "support_sessions" ADD CONSTRAINT "support_sessions_admitted_by_users_id_fk" FOREIGN KEY ("admitted_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- Runs that already have output expect the chunk after their last one.
UPDATE "script_runs" SET "output_next_seq" = COALESCE((SELECT max(c."sequence") + 1 FROM "script_output_chunks" c WHERE c."run_id" = "script_runs"."id"), 0);--> statement-breakpoint
-- Console sign-ins carry every scope (their user's role still decides admin); tokens made before
-- scopes existed could do everything their user could, and keep that so integrations do not break.
UPDATE "access_tokens" SET "scopes" = '{read,sessions,admin}'::text[];--> statement-breakpoint
-- The site-wide audit trail is append-only like the sessions' one.
CREATE FUNCTION "audit_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END;
$$;--> statement-breakpoint
CREATE TRIGGER "audit_events_no_change" BEFORE UPDATE OR DELETE ON "audit_events" FOR EACH ROW EXECUTE FUNCTION "audit_append_only"();--> statement-breakpoint
CREATE TRIGGER "audit_events_no_truncate" BEFORE TRUNCATE ON "audit_events" FOR EACH STATEMENT EXECUTE FUNCTION "audit_append_only"();
