CREATE TYPE "public"."output_stream" AS ENUM('stdout', 'stderr', 'info');--> statement-breakpoint
CREATE TYPE "public"."script_run_status" AS ENUM('awaiting_consent', 'queued', 'denied', 'expired', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped', 'lost');--> statement-breakpoint
CREATE TABLE "run_batches" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"created_by" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"stop_on_failure" boolean DEFAULT false NOT NULL,
	"scripts" jsonb NOT NULL,
	"session_ids" jsonb NOT NULL,
	"cancelled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "script_output_chunks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"sequence" integer NOT NULL,
	"stream" "output_stream" NOT NULL,
	"data" text NOT NULL,
	"bytes" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"seq" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "script_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"batch_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"command_id" uuid NOT NULL,
	"consent_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"script_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"script_name" text NOT NULL,
	"version" integer NOT NULL,
	"digest" text NOT NULL,
	"args" jsonb NOT NULL,
	"timeout_seconds" integer NOT NULL,
	"status" "script_run_status" DEFAULT 'awaiting_consent' NOT NULL,
	"exit_code" integer,
	"start_id" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"duration_ms" integer,
	"error" text,
	"output_bytes" integer DEFAULT 0 NOT NULL,
	"output_truncated" boolean DEFAULT false NOT NULL,
	"chat_message_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"seq" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "run_batches" ADD CONSTRAINT "run_batches_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "script_output_chunks" ADD CONSTRAINT "script_output_chunks_run_id_script_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."script_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "script_output_chunks" ADD CONSTRAINT "script_output_chunks_session_id_support_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."support_sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "script_runs" ADD CONSTRAINT "script_runs_batch_id_run_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "public"."run_batches"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "script_runs" ADD CONSTRAINT "script_runs_session_id_support_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."support_sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "script_runs" ADD CONSTRAINT "script_runs_command_id_commands_id_fk" FOREIGN KEY ("command_id") REFERENCES "public"."commands"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "script_runs" ADD CONSTRAINT "script_runs_consent_id_consent_requests_id_fk" FOREIGN KEY ("consent_id") REFERENCES "public"."consent_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "script_runs" ADD CONSTRAINT "script_runs_script_id_scripts_id_fk" FOREIGN KEY ("script_id") REFERENCES "public"."scripts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "script_runs" ADD CONSTRAINT "script_runs_version_id_script_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."script_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "script_runs" ADD CONSTRAINT "script_runs_chat_message_id_chat_messages_id_fk" FOREIGN KEY ("chat_message_id") REFERENCES "public"."chat_messages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "run_batches_creator_idx" ON "run_batches" USING btree ("created_by","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "script_output_chunks_run_seq_idx" ON "script_output_chunks" USING btree ("run_id","sequence");--> statement-breakpoint
CREATE INDEX "script_output_chunks_session_idx" ON "script_output_chunks" USING btree ("session_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "script_runs_command_position_idx" ON "script_runs" USING btree ("command_id","position");--> statement-breakpoint
CREATE INDEX "script_runs_batch_idx" ON "script_runs" USING btree ("batch_id","session_id","position");--> statement-breakpoint
CREATE INDEX "script_runs_session_idx" ON "script_runs" USING btree ("session_id","seq");--> statement-breakpoint
CREATE INDEX "script_runs_running_idx" ON "script_runs" USING btree ("started_at") WHERE "script_runs"."status" = 'running';