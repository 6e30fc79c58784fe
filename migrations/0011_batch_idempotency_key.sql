ALTER TABLE "run_batches" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
ALTER TABLE "run_batches" ADD COLUMN "request_hash" text;--> statement-breakpoint
CREATE UNIQUE INDEX "run_batches_idempotency_idx" ON "run_batches" USING btree ("created_by","idempotency_key") WHERE "run_batches"."idempotency_key" is not null;