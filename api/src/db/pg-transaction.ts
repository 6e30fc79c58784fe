import type { SQL, TablesRelationalConfig } from 'drizzle-orm'
import type { PgDialect, PgTransactionConfig } from 'drizzle-orm/pg-core'
import { PostgresJsSession, PostgresJsTransaction } from 'drizzle-orm/postgres-js'
import type postgres from 'postgres'
import type { Db } from './client.ts'
import { preparedRows, toQuery } from './raw.ts'

type Schemaless = Record<string, unknown>
type Tx = PostgresJsTransaction<Schemaless, TablesRelationalConfig>
/** What this needs of drizzle's session: its dialect and options are not in its public type. */
interface Session {
  dialect: PgDialect
  options: ConstructorParameters<typeof PostgresJsSession>[3]
  transaction<T>(work: (tx: Tx) => Promise<T>, config?: PgTransactionConfig): Promise<T>
}

/** Where a transaction begun here keeps how to send its last statement with the COMMIT behind it. */
const LAST = Symbol('last statement, then commit')
type Last = <T>(text: string, params: unknown[]) => Promise<T[]>

/**
 * Runs `query` (prepared) as the transaction's **last** statement: on a transaction begun here,
 * COMMIT is sent right behind it without waiting for its answer, and this resolves once both are
 * answered (the transaction committed), or rejects with the statement's error (PostgreSQL then
 * answers the COMMIT by rolling back) or the COMMIT's. Nothing may be sent in the transaction
 * afterwards. Elsewhere (PGlite, a transaction not begun here) it is `preparedRows`, and the
 * transaction commits as usual.
 */
export async function lastStatement<T extends Record<string, unknown>>(tx: Db, query: SQL): Promise<T[]> {
  const last = (tx as { [LAST]?: Last })[LAST]
  if (!last) return preparedRows<T>(tx, query)
  const { sql: text, params } = toQuery(query)
  return last<T>(text, params)
}

/** What postgres.js hands a query's `onexecute` option: the connection it was written to (src/connection.js). */
interface PgConnection {
  onclose: ((err: unknown) => void) | null
}

/**
 * drizzle's transactions on postgres.js with BEGIN sent ahead of the first statement.
 *
 * Why: postgres.js's `begin` writes BEGIN and waits for PostgreSQL's answer before the first
 * statement may leave, so every transaction pays one round trip more than it says. On this
 * machine a write to PostgreSQL over TCP loopback was 38 % of the server's CPU during the fleet
 * bench's dispatches (the kernel delivers to the peer inside the write): the CSR's Refresh and the
 * agent's report are a transaction each, of three or four statements.
 *
 * How: a connection is reserved from the pool (no round trip when one is idle), BEGIN is written
 * without waiting, and the transaction's statements follow it on that connection (postgres.js
 * pipelines them). Then COMMIT, or ROLLBACK when the work failed, and the connection goes back.
 * BEGIN's own answer is awaited before COMMIT, so a transaction that did not begin never commits
 * what it wrote. A connection that closes meanwhile fails the statements waiting on it (postgres.js
 * rejects them) and is left to the pool to reconnect, not handed back.
 *
 * The last statement may take the COMMIT along (`lastStatement`): the change feed's events and
 * notification are one statement that ends every change, so a change is then two round trips in
 * all when its first statements are sent together.
 *
 * Nested transactions are savepoints, as with postgres.js's `begin`.
 */
export function pipelineTransactions(drizzleSession: unknown, client: postgres.Sql): void {
  const session = drizzleSession as Session
  session.transaction = async <T>(work: (tx: Tx) => Promise<T>, config?: PgTransactionConfig): Promise<T> => {
    const reserved = await client.reserve()
    let lost: unknown
    let connection: PgConnection | undefined
    // Statements sent on a connection that has closed never settle (postgres.js writes them to the
    // dead socket): the transaction fails when its connection closes, as postgres.js's `begin` does.
    let closing: (err: unknown) => void = () => {}
    const closed = new Promise<never>((_, reject) => (closing = reject))
    closed.catch(() => {})
    const began = reserved
      .unsafe('begin', [], {
        // Called as BEGIN is written; must answer truthy, or postgres.js holds back what follows.
        onexecute: (written: PgConnection) => {
          connection = written
          written.onclose = (err) => {
            lost = err ?? new Error('The database connection closed during a transaction')
            closing(lost)
          }
          return true
        },
      } as postgres.UnsafeQueryOptions)
      .execute()
    // Its failure is reported by the statements behind it, or below before COMMIT.
    began.catch(() => {})
    let savepoints = 0
    const withSavepoints = Object.assign(reserved, {
      savepoint: async <R>(inner: (sql: postgres.ReservedSql) => Promise<R>): Promise<R> => {
        const name = `s${++savepoints}`
        await reserved.unsafe(`savepoint ${name}`)
        try {
          const result = await inner(reserved)
          await reserved.unsafe(`release savepoint ${name}`)
          return result
        } catch (err) {
          await reserved.unsafe(`rollback to savepoint ${name}`)
          throw err
        }
      },
    })
    let committed: Promise<unknown> | undefined
    const last: Last = async <T>(text: string, params: unknown[]) => {
      if (committed) throw new Error('a statement was sent after the transaction’s last one')
      // Both handed to postgres.js now, in this order: it writes them in the order they are executed.
      const statement = reserved.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true }).execute()
      const commit = reserved.unsafe('commit').execute()
      committed = commit
      commit.catch(() => {})
      await began
      const rows = await statement
      const answer = await commit
      // COMMIT in a transaction an earlier error aborted is answered ROLLBACK, not an error.
      if ((answer as { command?: string }).command !== 'COMMIT') throw new Error('The transaction was rolled back at its commit')
      return rows as unknown as T[]
    }
    try {
      // No schema: the relational query builders (`tx.query.*`) are not used, and building them per transaction costs.
      // drizzle types a transaction's session as holding postgres.js's TransactionSql: `savepoint` above is what it uses of it.
      const inner = new PostgresJsSession(withSavepoints as unknown as postgres.Sql, session.dialect, undefined, session.options)
      const tx: Tx = new PostgresJsTransaction(session.dialect, inner as unknown as ConstructorParameters<typeof PostgresJsTransaction>[1], undefined)
      Object.assign(tx, { [LAST]: last })
      const run = async () => {
        if (config) await tx.setTransaction(config)
        const result = await work(tx)
        await began
        if (committed) await committed
        else await reserved.unsafe('commit')
        return result
      }
      const running = run()
      // Lost to a closed connection, it may still fail later: nobody waits for it then.
      running.catch(() => {})
      return await Promise.race([running, closed])
    } catch (err) {
      // Once the COMMIT is sent, the transaction has ended either way (committed, or rolled back by it).
      if (lost === undefined && !committed) await Promise.race([reserved.unsafe('rollback'), closed]).catch(() => {})
      else if (committed && lost === undefined) await Promise.race([committed, closed]).catch(() => {})
      throw err
    } finally {
      if (lost === undefined) {
        if (connection) connection.onclose = null
        reserved.release()
      }
    }
  }
}
