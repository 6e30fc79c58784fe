-- Large values are compressed with lz4 where the database was built with it (PostgreSQL 14+ from
-- Debian, the PGDG packages and the official images are): on this machine's PostgreSQL 15,
-- storing 1 MiB of script output took ~4.7 ms of a backend's CPU with the default pglz and
-- ~0.2 ms with lz4; a 1.2 MiB shell script 6.3 ms stored as it is (0009) and 2.4 ms with lz4,
-- in a fifth of the room; 1 MiB of random bytes 5.2 ms as it is, 5.0 ms with lz4 (which gives
-- up on bytes that do not compress and stores them as they are).
--
-- A database without lz4 (PGlite) refuses the first statement with feature_not_supported: the
-- block then changes nothing, output keeps pglz and script files keep STORAGE EXTERNAL (0009).
-- Rows stored before keep the form they were stored in and stay readable: nothing is rewritten.
DO $$
BEGIN
  ALTER TABLE "script_output_chunks" ALTER COLUMN "data" SET COMPRESSION lz4;
  ALTER TABLE "script_files" ALTER COLUMN "content" SET COMPRESSION lz4;
  ALTER TABLE "script_files" ALTER COLUMN "content" SET STORAGE EXTENDED;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END
$$;
