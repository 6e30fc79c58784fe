CREATE TYPE "public"."actor_type" AS ENUM('user', 'agent', 'system');--> statement-breakpoint
CREATE TYPE "public"."agent_state" AS ENUM('online', 'offline', 'left', 'replaced');--> statement-breakpoint
CREATE TYPE "public"."chat_sender" AS ENUM('csr', 'customer', 'system');--> statement-breakpoint
CREATE TYPE "public"."command_status" AS ENUM('awaiting_consent', 'queued', 'delivered', 'running', 'succeeded', 'failed', 'cancelled');--> statement-breakpoint
CREATE TYPE "public"."consent_kind" AS ENUM('view_system_info', 'run_scripts', 'logon_as_user', 'reboot');--> statement-breakpoint
CREATE TYPE "public"."consent_status" AS ENUM('pending', 'approved', 'denied', 'expired', 'cancelled');--> statement-breakpoint
CREATE TYPE "public"."session_status" AS ENUM('waiting', 'active', 'ended');--> statement-breakpoint
CREATE TABLE "agents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"session_id" uuid NOT NULL,
	"state" "agent_state" DEFAULT 'online' NOT NULL,
	"token_hash" text NOT NULL,
	"rejoin_token_hash" text,
	"agent_version" text NOT NULL,
	"platform" jsonb NOT NULL,
	"public_key" text NOT NULL,
	"joined_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"left_at" timestamp with time zone,
	"seq" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chat_messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"session_id" uuid NOT NULL,
	"sender" "chat_sender" NOT NULL,
	"user_id" uuid,
	"body" text NOT NULL,
	"system_event" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"seq" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "command_reports" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"command_id" uuid NOT NULL,
	"sequence" integer NOT NULL,
	"status" text,
	"message" text,
	"data" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "commands" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"session_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"status" "command_status" NOT NULL,
	"consent_id" uuid,
	"payload" jsonb NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"error" text,
	"result" jsonb,
	"seq" integer NOT NULL,
	"dispatch_seq" integer
);
--> statement-breakpoint
CREATE TABLE "consent_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"session_id" uuid NOT NULL,
	"kind" "consent_kind" NOT NULL,
	"status" "consent_status" DEFAULT 'pending' NOT NULL,
	"requested_by" uuid NOT NULL,
	"details" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"answered_at" timestamp with time zone,
	"seq" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "session_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"session_id" uuid NOT NULL,
	"type" text NOT NULL,
	"actor_type" "actor_type" NOT NULL,
	"actor_id" uuid,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "support_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"number" text NOT NULL,
	"status" "session_status" DEFAULT 'waiting' NOT NULL,
	"customer_name" text NOT NULL,
	"customer_email" text,
	"description" text,
	"csr_id" uuid NOT NULL,
	"feed_seq" integer DEFAULT 0 NOT NULL,
	"status_seq" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"ended_reason" text,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "system_info_snapshots" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"session_id" uuid NOT NULL,
	"command_id" uuid NOT NULL,
	"collected_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"size_bytes" integer NOT NULL,
	"hostname" text,
	"os" text,
	"data" jsonb NOT NULL,
	"seq" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_session_id_support_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."support_sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_messages" ADD CONSTRAINT "chat_messages_session_id_support_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."support_sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_messages" ADD CONSTRAINT "chat_messages_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "command_reports" ADD CONSTRAINT "command_reports_command_id_commands_id_fk" FOREIGN KEY ("command_id") REFERENCES "public"."commands"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_session_id_support_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."support_sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_consent_id_consent_requests_id_fk" FOREIGN KEY ("consent_id") REFERENCES "public"."consent_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_requests" ADD CONSTRAINT "consent_requests_session_id_support_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."support_sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_requests" ADD CONSTRAINT "consent_requests_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_events" ADD CONSTRAINT "session_events_session_id_support_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."support_sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "support_sessions" ADD CONSTRAINT "support_sessions_csr_id_users_id_fk" FOREIGN KEY ("csr_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "system_info_snapshots" ADD CONSTRAINT "system_info_snapshots_session_id_support_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."support_sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "system_info_snapshots" ADD CONSTRAINT "system_info_snapshots_command_id_commands_id_fk" FOREIGN KEY ("command_id") REFERENCES "public"."commands"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "agents_token_idx" ON "agents" USING btree ("token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "agents_rejoin_token_idx" ON "agents" USING btree ("rejoin_token_hash");--> statement-breakpoint
CREATE INDEX "agents_session_idx" ON "agents" USING btree ("session_id","joined_at");--> statement-breakpoint
CREATE INDEX "agents_online_idx" ON "agents" USING btree ("last_seen_at") WHERE "agents"."state" = 'online';--> statement-breakpoint
CREATE INDEX "chat_messages_session_idx" ON "chat_messages" USING btree ("session_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "command_reports_seq_idx" ON "command_reports" USING btree ("command_id","sequence");--> statement-breakpoint
CREATE INDEX "commands_session_idx" ON "commands" USING btree ("session_id","seq");--> statement-breakpoint
CREATE INDEX "commands_dispatch_idx" ON "commands" USING btree ("session_id","dispatch_seq") WHERE "commands"."dispatch_seq" is not null;--> statement-breakpoint
CREATE INDEX "commands_consent_idx" ON "commands" USING btree ("consent_id");--> statement-breakpoint
CREATE INDEX "consent_requests_session_idx" ON "consent_requests" USING btree ("session_id","seq");--> statement-breakpoint
CREATE INDEX "consent_requests_pending_idx" ON "consent_requests" USING btree ("expires_at") WHERE "consent_requests"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "session_events_session_idx" ON "session_events" USING btree ("session_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "support_sessions_open_number_idx" ON "support_sessions" USING btree ("number") WHERE "support_sessions"."status" <> 'ended';--> statement-breakpoint
CREATE INDEX "support_sessions_csr_idx" ON "support_sessions" USING btree ("csr_id","created_at");--> statement-breakpoint
CREATE INDEX "support_sessions_waiting_idx" ON "support_sessions" USING btree ("expires_at") WHERE "support_sessions"."status" = 'waiting';--> statement-breakpoint
CREATE UNIQUE INDEX "system_info_snapshots_command_idx" ON "system_info_snapshots" USING btree ("command_id");--> statement-breakpoint
CREATE INDEX "system_info_snapshots_session_idx" ON "system_info_snapshots" USING btree ("session_id","collected_at");--> statement-breakpoint
-- The audit trail is append-only: the database itself refuses to change or remove a row.
CREATE FUNCTION "session_events_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'session_events is append-only (% refused)', TG_OP;
END;
$$;--> statement-breakpoint
CREATE TRIGGER "session_events_no_change" BEFORE UPDATE OR DELETE ON "session_events" FOR EACH ROW EXECUTE FUNCTION "session_events_append_only"();--> statement-breakpoint
CREATE TRIGGER "session_events_no_truncate" BEFORE TRUNCATE ON "session_events" FOR EACH STATEMENT EXECUTE FUNCTION "session_events_append_only"();
