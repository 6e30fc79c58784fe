import { useQuery } from '@tanstack/react-query'
import { useDataProvider } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { SessionReport } from '../../api/resources/sessions.ts'

/**
 * A session's report, read when the page opens. react-admin's Refresh (the app bar) reads it
 * again, as for every list and record.
 */
export function useSessionReport(id: string | undefined) {
  const dataProvider = useDataProvider<AppDataProvider>()
  return useQuery<SessionReport, Error>({
    queryKey: ['helpline', 'session-report', id],
    queryFn: () => dataProvider.getSessionReport(id!),
    enabled: id !== undefined,
  })
}
