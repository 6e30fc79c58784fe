-- Script file bytes are stored out of line without trying to compress them first (STORAGE
-- EXTERNAL). pglz on 1 MiB of script text cost PostgreSQL ~27 ms of CPU per upload here (vs ~6 ms
-- stored as is), and most uploads that are not text (archives, binaries) do not compress anyway.
-- Rows stored before keep their compressed form and stay readable: nothing is rewritten.
ALTER TABLE "script_files" ALTER COLUMN "content" SET STORAGE EXTERNAL;
