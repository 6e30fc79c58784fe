import { Box, Link as MuiLink, Typography } from '@mui/material'
import { Link } from 'react-router-dom'
import SupportAgent from '@mui/icons-material/SupportAgent'
import {
  BooleanInput,
  CreateButton,
  DataTable,
  DateField,
  List,
  SearchInput,
  SelectInput,
  TopToolbar,
  usePermissions,
  useRecordContext,
  useTranslate,
} from 'react-admin'
import { sessionStatuses, type Session } from '../../api/resources/sessions.ts'
import { AgentStatusChip, SessionStatusChip } from './chips.tsx'
import { formatNumber, platformLabel } from './format.ts'

const statusChoices = sessionStatuses.map((id) => ({ id, name: `helpline.sessions.status.${id}` }))

function ListActions() {
  return (
    <TopToolbar>
      <CreateButton label="helpline.sessions.create" />
    </TopToolbar>
  )
}

/** No session yet: say what a session is for and offer the one thing to do. */
function Empty() {
  const translate = useTranslate()
  return (
    <Box sx={{ textAlign: 'center', mt: 8, mx: 'auto', maxWidth: 520 }}>
      <SupportAgent sx={{ fontSize: 96, color: 'text.disabled' }} />
      <Typography variant="h5" gutterBottom>
        {translate('helpline.sessions.empty_title')}
      </Typography>
      <Typography color="text.secondary" sx={{ mb: 3 }}>
        {translate('helpline.sessions.empty_hint')}
      </Typography>
      <CreateButton label="helpline.sessions.create" variant="contained" />
    </Box>
  )
}

function StatusCell() {
  const record = useRecordContext<Session>()
  return record ? <SessionStatusChip status={record.status} /> : null
}

function NumberCell() {
  const record = useRecordContext<Session>()
  if (!record) return null
  return (
    <Box component="span" sx={{ fontFamily: 'monospace', whiteSpace: 'nowrap' }}>
      {formatNumber(record.number)}
    </Box>
  )
}

function AgentCell() {
  const record = useRecordContext<Session>()
  if (!record) return null
  return (
    <Box>
      <AgentStatusChip agent={record.agent} sessionStatus={record.status} />
      {record.agent && (
        <Typography variant="caption" color="text.secondary" component="div" sx={{ mt: 0.25 }}>
          {platformLabel(record.agent)}
        </Typography>
      )}
    </Box>
  )
}

function CustomerCell() {
  const record = useRecordContext<Session>()
  if (!record) return null
  return (
    <Box>
      {/* A real link: the row opens with the keyboard (Tab, Enter) and in a new tab, not only by a click. */}
      <MuiLink component={Link} to={`/sessions/${record.id}/show`} variant="body2" underline="hover" sx={{ display: 'block', fontWeight: 500 }} data-testid="session-link">
        {record.customerName}
      </MuiLink>
      {record.customerEmail && (
        <Typography variant="caption" color="text.secondary">
          {record.customerEmail}
        </Typography>
      )}
    </Box>
  )
}

function CsrCell() {
  const record = useRecordContext<Session>()
  return record ? <>{record.csr.name}</> : null
}

/**
 * Sessions, newest first. CSRs get their own from the API, admins everyone's (with a "mine"
 * filter). The list refetches every few seconds so the agent column follows joins and drops.
 */
export function SessionList() {
  const { permissions } = usePermissions()
  const translate = useTranslate()
  const isAdmin = permissions === 'admin'
  const filters = [
    <SearchInput key="q" source="q" alwaysOn />,
    <SelectInput key="status" source="status" choices={statusChoices} alwaysOn />,
    ...(isAdmin ? [<BooleanInput key="mine" source="mine" alwaysOn />] : []),
  ]
  return (
    <List<Session>
      title={translate('helpline.sessions.list_title')}
      filters={filters}
      actions={<ListActions />}
      empty={<Empty />}
      sort={{ field: 'createdAt', order: 'DESC' }}
      exporter={false}
      queryOptions={{ refetchInterval: 10_000 }}
    >
      <DataTable<Session> rowClick="show" bulkActionButtons={false}>
        <DataTable.Col source="status">
          <StatusCell />
        </DataTable.Col>
        <DataTable.Col source="customerName">
          <CustomerCell />
        </DataTable.Col>
        <DataTable.Col source="number" disableSort>
          <NumberCell />
        </DataTable.Col>
        <DataTable.Col source="agent" disableSort>
          <AgentCell />
        </DataTable.Col>
        {isAdmin && (
          <DataTable.Col source="csr" disableSort>
            <CsrCell />
          </DataTable.Col>
        )}
        <DataTable.Col source="createdAt">
          <DateField source="createdAt" showTime />
        </DataTable.Col>
        <DataTable.Col source="startedAt" disableSort>
          <DateField source="startedAt" showTime emptyText="—" />
        </DataTable.Col>
        <DataTable.Col source="endedAt">
          <DateField source="endedAt" showTime emptyText="—" />
        </DataTable.Col>
      </DataTable>
    </List>
  )
}
