import { extname } from 'node:path'

/**
 * How each platform starts a library script, as plain data (argv), so that every command line
 * is tested on any computer: the interpreter per extension, cmd.exe's quoting, the run folder's
 * ACL, killing a process tree, and which encoding the output is in.
 */

/** One way to start the script; several are tried in order while the program is not installed. */
export interface ScriptCommand {
  command: string
  args: string[]
  /**
   * Windows: the args are the command line as written (cmd.exe's own quoting, cmdCommandLine),
   * not re-quoted by Node for the C runtime's rules.
   */
  verbatim?: boolean
}

export interface ScriptLaunch {
  candidates: ScriptCommand[]
  /** Ends the "not installed" message: "needed for .py scripts". */
  neededFor: string
  /** Added under the caller's env (which wins). */
  env?: Record<string, string>
}

export type LaunchOrError = ScriptLaunch | { error: string }

const POWERSHELL_ARGS = ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File']

/** The extensions the Windows adapter runs, for the "no interpreter" message. */
export const WINDOWS_EXTENSIONS = ['.ps1', '.bat', '.cmd', '.vbs', '.js', '.py']

/**
 * Windows: by extension only (Windows has no #! lines). PowerShell 7 (pwsh) when installed, else
 * Windows PowerShell; cscript for Windows Script Host files; the py launcher, else python.
 * Throws CmdArgumentError for a .bat/.cmd argument that cmd.exe would re-interpret.
 */
export function windowsLaunch(scriptPath: string, args: string[]): LaunchOrError {
  const ext = extname(scriptPath).toLowerCase()
  const neededFor = `needed for ${ext} scripts`
  switch (ext) {
    case '.ps1':
      return {
        candidates: ['pwsh.exe', 'powershell.exe'].map((command) => ({ command, args: [...POWERSHELL_ARGS, scriptPath, ...args] })),
        neededFor,
      }
    case '.bat':
    case '.cmd':
      // /d: no AutoRun commands from the registry; /v:off: `!` is not delayed expansion; /s /c: the
      // outer quotes of the line are removed and the rest run as written.
      return { candidates: [{ command: 'cmd.exe', args: ['/d', '/v:off', '/s', '/c', `"${cmdCommandLine([scriptPath, ...args])}"`], verbatim: true }], neededFor }
    case '.vbs':
    case '.js':
      return { candidates: [{ command: 'cscript.exe', args: ['//nologo', scriptPath, ...args] }], neededFor }
    case '.py':
      return {
        candidates: [
          { command: 'py.exe', args: ['-3', '-u', scriptPath, ...args] },
          { command: 'python.exe', args: ['-u', scriptPath, ...args] },
        ],
        neededFor,
        env: { PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' },
      }
  }
  return { error: `no interpreter for ${ext || 'a file without an extension'} on Windows (it runs ${WINDOWS_EXTENSIONS.join(' ')})` }
}

/** The extensions the macOS adapter runs by extension; others go by their #! line. */
export function darwinLaunch(scriptPath: string, args: string[]): ScriptLaunch | undefined {
  const ext = extname(scriptPath).toLowerCase()
  const neededFor = `needed for ${ext} scripts`
  const one = (command: string, pre: string[] = []): ScriptLaunch => ({ candidates: [{ command, args: [...pre, scriptPath, ...args] }], neededFor })
  switch (ext) {
    case '.sh':
      return one('/bin/sh')
    case '.bash':
      return one('/bin/bash')
    case '.zsh':
    case '.command':
      // .command is what Finder runs in Terminal: zsh is the login shell since macOS 10.15.
      return one('/bin/zsh')
    case '.py':
      return { ...one('python3', ['-u']), env: { PYTHONUNBUFFERED: '1' } }
    case '.applescript':
    case '.scpt':
      return one('/usr/bin/osascript')
  }
  return undefined
}

/** An argument cmd.exe would change before the script sees it; names the argument. */
export class CmdArgumentError extends Error {}

/** What cmd.exe does with characters that no quoting protects. */
const CMD_UNSAFE: [RegExp, string][] = [
  [/"/, 'a double quote ("), which ends cmd.exe\'s quoting'],
  [/%/, 'a percent sign (%), which cmd.exe expands as a variable even inside quotes'],
  [/[\r\n]/, 'a line break, which ends the command'],
  // eslint-disable-next-line no-control-regex -- exactly the control characters are meant
  [/[\0-\x08\x0b\x0c\x0e-\x1f]/, 'a control character'],
]

/**
 * The command line after `cmd.exe /d /v:off /s /c`: each part in double quotes, inside which
 * & | < > ^ ( ) spaces and Unicode are plain characters, and `!` is one with /v:off. A trailing
 * backslash is harmless (cmd.exe does not treat \" as an escape); an empty argument is "".
 * What cannot be protected (", %, line breaks, control characters) is refused, naming the
 * argument, before anything runs.
 */
export function cmdCommandLine(parts: string[]): string {
  return parts
    .map((part, i) => {
      for (const [pattern, what] of CMD_UNSAFE) {
        if (pattern.test(part)) {
          const name = i === 0 ? 'the script path' : `argument ${i} (${JSON.stringify(part)})`
          throw new CmdArgumentError(`${name} contains ${what}; it cannot be passed to a .bat/.cmd script safely, so nothing ran`)
        }
      }
      return `"${part}"`
    })
    .join(' ')
}

/**
 * icacls: the run folder's inherited permissions removed (no Everyone, no Users), full control
 * for the agent's own user and, after a logon as another user, that user (files made in it
 * inherit that). Each user is DOMAIN\name or *SID.
 */
export function runFolderAcl(dir: string, users: string[]): ScriptCommand {
  return { command: 'icacls.exe', args: [dir, '/inheritance:r', '/grant:r', ...users.map((u) => `${u}:(OI)(CI)F`), '/q'] }
}

/** Windows has no process groups: taskkill walks the tree by parent pid (/T), forcibly (/F). */
export function windowsKillTree(pid: number): ScriptCommand {
  return { command: 'taskkill.exe', args: ['/pid', String(pid), '/T', '/F'] }
}

/**
 * The TextDecoder label for a Windows code page (`chcp`'s number); utf-8 for 65001 and for any
 * page this Node's ICU does not know. Node's official builds have full ICU (process.versions.icu),
 * which decodes shift_jis, gbk, big5, euc-kr and the windows-125x pages.
 */
export function codePageEncoding(codePage: number): string {
  const labels: Record<number, string> = {
    65001: 'utf-8',
    932: 'shift_jis',
    936: 'gbk',
    949: 'euc-kr',
    950: 'big5',
    866: 'ibm866',
    874: 'windows-874',
    1250: 'windows-1250',
    1251: 'windows-1251',
    1252: 'windows-1252',
    1253: 'windows-1253',
    1254: 'windows-1254',
    1255: 'windows-1255',
    1256: 'windows-1256',
    1257: 'windows-1257',
    1258: 'windows-1258',
  }
  const label = labels[codePage] ?? 'utf-8'
  try {
    new TextDecoder(label)
    return label
  } catch {
    // small-icu: only utf-8/utf-16 decode.
    return 'utf-8'
  }
}

/** `Active code page: 932` (or its translation: the number is the only digits) → 932. */
export function parseChcp(output: string): number | undefined {
  const m = /(\d{3,5})/.exec(output)
  return m ? Number(m[1]) : undefined
}

/**
 * Decodes a script's output on Windows: UTF-8 when the bytes are valid UTF-8 (PowerShell 7,
 * Python with PYTHONIOENCODING, chcp 65001), else the console's code page (cmd's own messages,
 * older programs). Decided once per stream, on its first chunk that is not plain ASCII.
 */
export class WindowsOutputDecoder {
  private decoder: TextDecoder | undefined

  constructor(private readonly codePageLabel: string) {}

  decode(chunk: Uint8Array, final = false): string {
    if (!this.decoder) {
      const ascii = chunk.every((b) => b < 0x80)
      if (ascii && !final) return new TextDecoder('utf-8').decode(chunk)
      this.decoder = new TextDecoder(looksUtf8(chunk, final) ? 'utf-8' : this.codePageLabel)
    }
    return this.decoder.decode(chunk, { stream: !final })
  }
}

/** Valid UTF-8, allowing a character cut at the end of the chunk unless it is the last. */
function looksUtf8(bytes: Uint8Array, final: boolean): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: !final })
    return true
  } catch {
    return false
  }
}
