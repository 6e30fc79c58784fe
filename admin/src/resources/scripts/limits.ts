import { useQuery } from '@tanstack/react-query'
import { useDataProvider } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { ScriptLimits } from '../../api/resources/scripts.ts'

/** The server's defaults, used until GET /script-limits answers (it has the last word anyway). */
export const defaultLimits: ScriptLimits = {
  maxBytes: 1024 * 1024,
  maxInputFiles: 100,
  maxFileNameBytes: 255,
  executableExtensions: ['.sh', '.bash', '.py', '.js', '.mjs', '.ps1', '.bat', '.cmd'],
}

export function useScriptLimits(): ScriptLimits {
  const dataProvider = useDataProvider<AppDataProvider>()
  const { data } = useQuery({ queryKey: ['scriptLimits'], queryFn: () => dataProvider.scriptLimits(), staleTime: Infinity })
  return data ?? defaultLimits
}
