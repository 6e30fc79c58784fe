import { Type, type Static } from 'typebox'

/** The one error body every 4xx and 5xx response has. */
export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
    code: Type.String({ description: 'Stable machine-readable code, e.g. EMAIL_TAKEN' }),
    error: Type.String({ description: 'HTTP reason phrase' }),
    message: Type.String({ description: 'Human-readable explanation' }),
    errors: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'Field name → problem with that field' }),
    ),
  },
  { $id: 'ErrorResponse', additionalProperties: false },
)
export type ErrorResponse = Static<typeof ErrorResponse>

const reasons: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

export function reasonPhrase(status: number): string {
  return reasons[status] ?? 'Error'
}

/** An error a route means to send: status, stable code, message and optional field errors. */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly errors?: Record<string, string>,
    readonly headers?: Record<string, string>,
  ) {
    super(message)
    this.name = 'AppError'
  }

  toResponse(): ErrorResponse {
    return {
      statusCode: this.statusCode,
      code: this.code,
      error: reasonPhrase(this.statusCode),
      message: this.message,
      ...(this.errors ? { errors: this.errors } : {}),
    }
  }
}

type Fields = Record<string, string>

export const badRequest = (code: string, message: string, errors?: Fields) => new AppError(400, code, message, errors)
export const unauthorized = (code: string, message: string) => new AppError(401, code, message)
export const forbidden = (code: string, message: string) => new AppError(403, code, message)
export const notFound = (what: string, code = 'NOT_FOUND') => new AppError(404, code, `${what} not found`)
export const conflict = (code: string, message: string, errors?: Fields) => new AppError(409, code, message, errors)
export const tooLarge = (code: string, message: string) => new AppError(413, code, message)
export const unprocessable = (code: string, message: string, errors?: Fields) => new AppError(422, code, message, errors)
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new AppError(429, 'RATE_LIMITED', message, undefined, { 'retry-after': String(retryAfterSeconds) })
/** What a 503 tells a client to wait before trying again: the database is usually back within seconds. */
export const RETRY_AFTER_SECONDS = 5
export const unavailable = (code: string, message: string, retryAfterSeconds = RETRY_AFTER_SECONDS) =>
  new AppError(503, code, message, undefined, { 'retry-after': String(retryAfterSeconds) })
