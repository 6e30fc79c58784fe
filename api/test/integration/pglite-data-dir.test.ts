import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openDatabase } from '../../src/db/client.ts'
import { initPgliteDataDir, needsInitdb, PGLITE_SHARED_BUFFERS } from '../../src/db/pglite.ts'
import { testDatabaseUrl } from '../helpers/db.ts'

/**
 * The embedded database on disk (db/pglite.ts): a fresh directory is initialised by a child
 * process, a failed initialisation says why, the server's settings apply, and what was written
 * is there after a reopen.
 */
t.test('a fresh data directory: initialised by a child, kept across a reopen', { skip: testDatabaseUrl ? 'embedded-database test' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'helpline-pglite-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const dataDir = join(dir, 'data')
  t.ok(needsInitdb(dataDir), 'nothing there yet')
  t.notOk(needsInitdb('memory://'), 'in memory: PGlite initialises it itself')

  // The child's failure reaches the caller with its reason; initdb itself has run by then.
  await t.rejects(initPgliteDataDir(dataDir, join(dir, 'no-migrations')), /initialising the embedded database in .* failed \(exit 1\):[^]*meta\/_journal\.json/)
  t.notOk(needsInitdb(dataDir), 'initdb ran in the child')

  // A directory initialised but not migrated (the child died in between) is migrated on open.
  const first = await openDatabase({ dataDir })
  const applied = await first.pglite!.query<{ n: number }>('select count(*)::int as n from drizzle.__drizzle_migrations')
  t.ok(Number(applied.rows[0]?.n) > 0, 'migrations applied')
  const buffers = await first.pglite!.query<{ shared_buffers: string }>('show shared_buffers')
  t.equal(buffers.rows[0]?.shared_buffers, PGLITE_SHARED_BUFFERS)
  await first.pglite!.exec('create table kept (x int); insert into kept values (42)')
  await first.close()

  const second = await openDatabase({ dataDir })
  const kept = await second.pglite!.query<{ x: number }>('select x from kept')
  t.same(kept.rows, [{ x: 42 }], 'data survives a reopen')
  await second.close()
  t.ok(existsSync(join(dataDir, 'PG_VERSION')))
})
