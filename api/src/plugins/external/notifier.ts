import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createLocalNotifier, createPostgresNotifier, type Notifier } from '../../lib/notifier.ts'

declare module 'fastify' {
  interface FastifyInstance {
    notifier: Notifier
  }
}

/** Session wake-ups: LISTEN/NOTIFY on PostgreSQL (shared by every instance), in-process on PGlite. */
export default fp(
  async function notifier(app: FastifyInstance) {
    const { postgres } = app.database
    const notifier = postgres
      ? await createPostgresNotifier(
          postgres,
          (err) => app.log.warn({ err }, 'NOTIFY failed; listeners catch up on their next read'),
          () => app.log.info('listening for session changes again; waking every listener to catch up'),
          undefined,
          () => app.log.warn('the LISTEN connection heard nothing, not even its own heartbeat; trusting no memory and waking every listener until it hears again'),
        )
      : createLocalNotifier()
    app.decorate('notifier', notifier)
    app.addHook('onClose', async () => notifier.close())
  },
  { name: 'notifier', dependencies: ['database'] },
)
