import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { unavailableCause } from '../../db/unavailable.ts'
import { AppError, reasonPhrase, unavailable, type ErrorResponse } from '../../errors.ts'

export interface AjvIssue {
  instancePath?: string
  message?: string
  params?: { missingProperty?: string; additionalProperty?: string }
}

/** Turns Ajv issues into `{ field: message }`, the shape react-admin puts on form fields. */
function fieldErrors(issues: AjvIssue[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const issue of issues) {
    let field = (issue.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.')
    let message = issue.message ?? 'is invalid'
    if (issue.params?.missingProperty) {
      field = [field, issue.params.missingProperty].filter(Boolean).join('.')
      message = 'is required'
    } else if (issue.params?.additionalProperty) {
      field = [field, issue.params.additionalProperty].filter(Boolean).join('.')
      message = 'is not allowed'
    }
    out[field || '_'] ??= message
  }
  return out
}

/** 400 VALIDATION_FAILED naming each field at fault; also for input a route validates itself. */
export function validationFailed(issues: AjvIssue[], where: string): AppError {
  const message = `Invalid ${where}: ${issues.map((v) => `${v.instancePath || where} ${v.message}`).join('; ')}`
  return new AppError(400, 'VALIDATION_FAILED', message, fieldErrors(issues))
}

/** Stable codes for the errors fastify itself raises before a handler runs. */
const frameworkCodes: Record<string, [number, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'BODY_TOO_LARGE'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'INVALID_JSON'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'INVALID_JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'INVALID_CONTENT_LENGTH'],
}

export default fp(
  async function errors(app: FastifyInstance) {
    app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
      let body: ErrorResponse
      const down = unavailableCause(err)
      if (down) {
        // Not a bug: the database is down or overloaded. Clients retry after Retry-After. Only the
        // driver's error is logged: drizzle's wrapper carries the query's parameters.
        request.log.warn({ database: down }, 'database unavailable')
        err = unavailable('SERVICE_UNAVAILABLE', `The database is unavailable; try again shortly (request id ${request.id})`)
      }
      if (err instanceof AppError) {
        body = err.toResponse()
        if (err.headers) void reply.headers(err.headers)
      } else if (err.validation) {
        body = validationFailed(err.validation as AjvIssue[], err.validationContext ?? 'request').toResponse()
      } else {
        const known = err.code ? frameworkCodes[err.code] : undefined
        const status = known?.[0] ?? err.statusCode ?? 500
        if (status >= 500) {
          request.log.error({ err }, 'request failed')
          body = {
            statusCode: 500,
            code: 'INTERNAL_ERROR',
            error: reasonPhrase(500),
            message: `Internal server error (request id ${request.id})`,
          }
        } else if (status === 400 && err instanceof SyntaxError) {
          body = { statusCode: 400, code: 'INVALID_JSON', error: reasonPhrase(400), message: `Body is not valid JSON: ${err.message}` }
        } else {
          body = { statusCode: status, code: known?.[1] ?? 'BAD_REQUEST', error: reasonPhrase(status), message: err.message }
        }
      }
      return reply.code(body.statusCode).send(body)
    })

    app.setNotFoundHandler((request, reply) => {
      return reply.code(404).send({
        statusCode: 404,
        code: 'ROUTE_NOT_FOUND',
        error: reasonPhrase(404),
        message: `No route ${request.method} ${request.url.split('?')[0]}`,
      } satisfies ErrorResponse)
    })
  },
  { name: 'errors' },
)
