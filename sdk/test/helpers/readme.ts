import { readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const readme = fileURLToPath(new URL('../../README.md', import.meta.url))

/** The ```ts block that follows `<!-- example: name … -->` in sdk/README.md. */
export async function example(name: string): Promise<string> {
  const text = await readFile(readme, 'utf8')
  const match = new RegExp(`<!-- example: ${name}\\b[^>]*-->\\s*\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(text)
  if (!match) throw new Error(`no example "${name}" in sdk/README.md`)
  return match[1]!
}

/**
 * Runs a README example as written, with HELPLINE_URL and HELPLINE_TOKEN set, and returns the
 * lines it printed. The file goes next to the tests, so its `@helpline/sdk` is this workspace's build.
 */
export async function runExample(t: { teardown(fn: () => unknown): void }, name: string, env: { url: string; token: string }): Promise<string[]> {
  const file = fileURLToPath(new URL(`../.readme-example-${name}-${process.pid}.ts`, import.meta.url))
  const logged: unknown[][] = []
  const log = console.log
  const saved = { url: process.env.HELPLINE_URL, token: process.env.HELPLINE_TOKEN }
  const restore = () => {
    console.log = log
    if (saved.url === undefined) delete process.env.HELPLINE_URL
    else process.env.HELPLINE_URL = saved.url
    if (saved.token === undefined) delete process.env.HELPLINE_TOKEN
    else process.env.HELPLINE_TOKEN = saved.token
  }
  t.teardown(async () => {
    restore()
    await rm(file, { force: true })
  })
  await writeFile(file, await example(name))
  process.env.HELPLINE_URL = env.url
  process.env.HELPLINE_TOKEN = env.token
  console.log = (...args: unknown[]) => void logged.push(args)
  try {
    await import(file)
  } finally {
    restore()
  }
  return logged.map((args) => args.map(String).join(' '))
}
