/**
 * The text rules the server and the agent share: which file names may be written on a
 * customer's computer, and which characters never reach a terminal. Pure text, so it runs in
 * Node and in browsers alike. The agent applies these rules itself to whatever the server sends:
 * the server refusing such names at upload is a convenience, not what keeps the customer safe.
 */

const utf8 = new TextEncoder()

/** C0 controls (NUL to US), DEL and the C1 controls: a terminal acts on them instead of showing them. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
/** The same, except newline and tab, which free text may keep. */
const CONTROL_EXCEPT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/
/** Bidirectional embeddings, overrides (U+202A–U+202E) and isolates (U+2066–U+2069): they reorder what is shown. */
const BIDI = /[\u202a-\u202e\u2066-\u2069]/
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
/** Device names Windows opens instead of a file, with or without an extension (`CON`, `nul.txt`, `COM1 .log`). */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[1-9]|lpt[1-9]) *(\.|$)/i

/** Removed by cleanText: every control character except newline and tab, and the bidi controls. */
const UNSAFE_GLOBAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
/** Escaped by quoteName: everything a terminal would act on, plus the quote and the backslash. */
const QUOTE_GLOBAL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"\\]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

export const MAX_FILE_NAME_BYTES = 255

export type FileNameProblemCode = 'empty' | 'too_long' | 'separator' | 'dots' | 'control' | 'bidi' | 'unicode' | 'reserved' | 'trailing'

export interface FileNameRule {
  code: FileNameProblemCode
  /** Completes "File name "x" …". */
  message: string
  breaks(name: string): boolean
}

/**
 * Every rule a script's file name obeys, in the order they are checked. A name is written as
 * one file directly inside a fresh folder, so it must be one path component on every file system
 * the agent runs on (Linux, and Windows next), must not leave that folder, and must not hide or
 * rewrite anything when it is shown in a terminal.
 */
export const fileNameRules: readonly FileNameRule[] = [
  { code: 'empty', message: 'must not be empty', breaks: (n) => n.length === 0 },
  { code: 'too_long', message: `must be at most ${MAX_FILE_NAME_BYTES} bytes`, breaks: (n) => utf8.encode(n).length > MAX_FILE_NAME_BYTES },
  { code: 'separator', message: 'must be a plain file name, without / or \\', breaks: (n) => n.includes('/') || n.includes('\\') },
  { code: 'dots', message: 'must not be . or contain ..', breaks: (n) => n === '.' || n.includes('..') },
  // NUL is among them.
  { code: 'control', message: 'must not contain control characters', breaks: (n) => CONTROL.test(n) },
  { code: 'bidi', message: 'must not contain bidirectional override or isolate characters', breaks: (n) => BIDI.test(n) },
  { code: 'unicode', message: 'must be valid Unicode', breaks: (n) => LONE_SURROGATE.test(n) },
  {
    code: 'reserved',
    message: 'must not be a device name Windows reserves (CON, PRN, AUX, NUL, COM1–COM9, LPT1–LPT9), with or without an extension',
    breaks: (n) => WINDOWS_DEVICE.test(n),
  },
  // Windows drops them, so "run.sh." would silently become another file than the one approved.
  { code: 'trailing', message: 'must not end with a dot or a space', breaks: (n) => n.endsWith('.') || n.endsWith(' ') },
]

/** The first rule the name breaks, or undefined when it is fine. */
export function fileNameProblem(name: string): FileNameRule | undefined {
  return fileNameRules.find((rule) => rule.breaks(name))
}

/**
 * Whether text holds characters no name shown to a customer may have: control characters
 * (newline and tab too, unless `multiline`) and the bidi overrides and isolates.
 */
export function hasControlCharacters(text: string, options: { multiline?: boolean } = {}): boolean {
  return (options.multiline ? CONTROL_EXCEPT_LINES : CONTROL).test(text) || BIDI.test(text)
}

/**
 * Text made safe to show in a terminal (or anywhere that renders controls): removes the C0 and
 * C1 control characters except newline and tab, DEL, and the bidi overrides and isolates. What is
 * left cannot move the cursor, clear a line, set a title, open a link or reorder what follows.
 */
export function cleanText(text: string): string {
  return text.replace(UNSAFE_GLOBAL, '')
}

/**
 * A name in double quotes with everything a terminal would act on written as \uXXXX, so an
 * error message names exactly the file it refused without the name doing anything.
 */
export function quoteName(name: string): string {
  return `"${name.replace(QUOTE_GLOBAL, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))}"`
}
