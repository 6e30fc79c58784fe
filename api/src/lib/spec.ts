import type { FastifyInstance } from 'fastify'
import { stringify } from 'yaml'

/** The OpenAPI document as committed: keys sorted so every diff shows a real change. */
export function renderSpec(app: FastifyInstance): string {
  const doc = app.swagger() as unknown as Record<string, unknown>
  return stringify(doc, { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false })
}
