CREATE TYPE "public"."script_file_role" AS ENUM('executable', 'input');--> statement-breakpoint
CREATE TABLE "script_categories" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "script_files" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"version_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"name" text NOT NULL,
	"role" "script_file_role" NOT NULL,
	"size" integer NOT NULL,
	"sha256" text NOT NULL,
	"content" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "script_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"script_id" uuid NOT NULL,
	"number" integer NOT NULL,
	"digest" text NOT NULL,
	"size" integer NOT NULL,
	"created_by" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "scripts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"name_key" text GENERATED ALWAYS AS (lower("name")) STORED NOT NULL,
	"category_id" uuid NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"owner_id" uuid NOT NULL,
	"published" boolean DEFAULT false NOT NULL,
	"default_timeout_seconds" integer DEFAULT 600 NOT NULL,
	"version" integer NOT NULL,
	"size" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "script_files" ADD CONSTRAINT "script_files_version_id_script_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."script_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "script_versions" ADD CONSTRAINT "script_versions_script_id_scripts_id_fk" FOREIGN KEY ("script_id") REFERENCES "public"."scripts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "script_versions" ADD CONSTRAINT "script_versions_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scripts" ADD CONSTRAINT "scripts_category_id_script_categories_id_fk" FOREIGN KEY ("category_id") REFERENCES "public"."script_categories"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scripts" ADD CONSTRAINT "scripts_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "script_categories_name_lower_idx" ON "script_categories" USING btree (lower("name")) WHERE "script_categories"."deleted_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "script_files_name_idx" ON "script_files" USING btree ("version_id",lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "script_versions_number_idx" ON "script_versions" USING btree ("script_id","number");--> statement-breakpoint
CREATE UNIQUE INDEX "scripts_name_key_idx" ON "scripts" USING btree ("name_key") WHERE "scripts"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "scripts_category_idx" ON "scripts" USING btree ("category_id");--> statement-breakpoint
CREATE INDEX "scripts_owner_idx" ON "scripts" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "scripts_updated_idx" ON "scripts" USING btree ("updated_at");