import { Box, Typography } from '@mui/material'
import {
  AutocompleteInput,
  DataTable,
  DateField,
  DateInput,
  List,
  ReferenceInput,
  SearchInput,
  SelectInput,
  usePermissions,
  useRecordContext,
  useTranslate,
} from 'react-admin'
import { sessionStatuses, type Session } from '../../api/resources/sessions.ts'
import { SessionStatusChip } from '../sessions/chips.tsx'
import { formatNumber } from '../sessions/format.ts'
import { formatDuration } from '../script-batches/status.ts'
import { reportPath } from './report.ts'

const statusChoices = sessionStatuses.map((id) => ({ id, name: `helpline.sessions.status.${id}` }))

function CustomerCell() {
  const record = useRecordContext<Session>()
  if (!record) return null
  return (
    <Box>
      <Typography variant="body2">{record.customerName}</Typography>
      <Typography variant="caption" color="text.secondary" sx={{ fontFamily: 'monospace' }}>
        {formatNumber(record.number)}
      </Typography>
    </Box>
  )
}

function StatusCell() {
  const record = useRecordContext<Session>()
  return record ? <SessionStatusChip status={record.status} /> : null
}

function CsrCell() {
  const record = useRecordContext<Session>()
  return record ? <>{record.csr.name}</> : null
}

/** From the first join to the end; an open session's duration is still growing and shown as "—". */
function DurationCell() {
  const record = useRecordContext<Session>()
  if (!record?.startedAt || !record.endedAt) return <>—</>
  return <>{formatDuration(new Date(record.endedAt).getTime() - new Date(record.startedAt).getTime())}</>
}

/**
 * Session reports: the sessions list (CSRs get their own from the API, admins everyone's) by
 * creation date, status and, for admins, CSR; each row opens that session's report.
 */
export function ReportList() {
  const { permissions } = usePermissions()
  const translate = useTranslate()
  const isAdmin = permissions === 'admin'
  const filters = [
    <DateInput key="from" source="from" alwaysOn />,
    <DateInput key="to" source="to" alwaysOn />,
    <SelectInput key="status" source="status" choices={statusChoices} alwaysOn />,
    ...(isAdmin
      ? [
          <ReferenceInput key="csrId" source="csrId" reference="users" alwaysOn>
            <AutocompleteInput optionText="name" filterToQuery={(q: string) => ({ q })} sx={{ minWidth: 220 }} />
          </ReferenceInput>,
        ]
      : []),
    <SearchInput key="q" source="q" alwaysOn />,
  ]
  return (
    <List<Session> title={translate('helpline.report.list_title')} filters={filters} sort={{ field: 'createdAt', order: 'DESC' }} exporter={false}>
      <DataTable<Session> rowClick={(id) => reportPath(String(id))} bulkActionButtons={false}>
        <DataTable.Col source="customerName">
          <CustomerCell />
        </DataTable.Col>
        <DataTable.Col source="status">
          <StatusCell />
        </DataTable.Col>
        {isAdmin && (
          <DataTable.Col source="csr" disableSort>
            <CsrCell />
          </DataTable.Col>
        )}
        <DataTable.Col source="createdAt">
          <DateField source="createdAt" showTime />
        </DataTable.Col>
        <DataTable.Col source="endedAt">
          <DateField source="endedAt" showTime emptyText="—" />
        </DataTable.Col>
        <DataTable.Col source="duration" disableSort>
          <DurationCell />
        </DataTable.Col>
      </DataTable>
    </List>
  )
}
