import { Box, Button, Link as MuiLink, Stack, Typography } from '@mui/material'
import PlayArrow from '@mui/icons-material/PlayArrow'
import PlaylistPlay from '@mui/icons-material/PlaylistPlay'
import { DataTable, List, SelectInput, TopToolbar, usePermissions, useRecordContext, useTranslate } from 'react-admin'
import { Link } from 'react-router-dom'
import { batchStatuses, type ScriptBatchSummary } from '../../api/resources/script-batches.ts'
import { BatchStatusChip } from './chips.tsx'
import { RUN_SCRIPTS_PATH } from './plan.ts'
import { statusChip } from './status.ts'
import { useFormatTime } from '../sessions/useSessionLive.ts'

const statusChoices = batchStatuses.map((id) => ({ id, name: `helpline.runs.batch_status.${id}` }))

function RunScriptsButton({ variant = 'text' }: { variant?: 'text' | 'contained' }) {
  const translate = useTranslate()
  return (
    <Button component={Link} to={RUN_SCRIPTS_PATH} startIcon={<PlayArrow />} variant={variant} size={variant === 'text' ? 'small' : 'medium'}>
      {translate('helpline.runs.menu')}
    </Button>
  )
}

function Empty() {
  const translate = useTranslate()
  return (
    <Box sx={{ textAlign: 'center', mt: 8, mx: 'auto', maxWidth: 520 }}>
      <PlaylistPlay sx={{ fontSize: 96, color: 'text.disabled' }} />
      <Typography variant="h5" gutterBottom>
        {translate('helpline.runs.batches_empty')}
      </Typography>
      <Typography color="text.secondary" sx={{ mb: 3 }}>
        {translate('helpline.runs.batches_empty_hint')}
      </Typography>
      <RunScriptsButton variant="contained" />
    </Box>
  )
}

/** "Succeeded 3 · Failed 1", in the grid's colours. */
function CountsCell() {
  const translate = useTranslate()
  const batch = useRecordContext<ScriptBatchSummary>()
  if (!batch) return null
  return (
    <Stack direction="row" spacing={1} sx={{ flexWrap: 'wrap' }}>
      {Object.entries(batch.counts)
        .filter(([, n]) => n > 0)
        .map(([status, n]) => {
          const { color } = statusChip(status)
          return (
            <Typography key={status} variant="body2" component="span" color={color === 'default' || !color ? 'text.secondary' : `${color}.main`}>
              {`${translate(`helpline.runs.status.${status}`, { _: status })} ${n}`}
            </Typography>
          )
        })}
    </Stack>
  )
}

/** When the batch was started, as a link to it: rows open with the keyboard too. */
function CreatedCell() {
  const batch = useRecordContext<ScriptBatchSummary>()
  const time = useFormatTime()
  if (!batch) return null
  return (
    <MuiLink component={Link} to={`/script-batches/${batch.id}/show`} underline="hover" sx={{ whiteSpace: 'nowrap' }} data-testid="batch-link">
      {time(batch.createdAt)}
    </MuiLink>
  )
}

function StatusCell() {
  const batch = useRecordContext<ScriptBatchSummary>()
  return batch ? <BatchStatusChip status={batch.status} /> : null
}

/** Every script run the user started, newest first; a running one refreshes its counts. */
export function BatchList() {
  const translate = useTranslate()
  const { permissions } = usePermissions()
  return (
    <List<ScriptBatchSummary>
      title={translate('helpline.runs.batches_title')}
      filters={[<SelectInput key="status" source="status" choices={statusChoices} alwaysOn />]}
      actions={
        <TopToolbar>
          <RunScriptsButton />
        </TopToolbar>
      }
      empty={<Empty />}
      sort={{ field: 'createdAt', order: 'DESC' }}
      exporter={false}
      queryOptions={{ refetchInterval: 5000 }}
    >
      <DataTable<ScriptBatchSummary> rowClick="show" bulkActionButtons={false}>
        <DataTable.Col source="createdAt">
          <CreatedCell />
        </DataTable.Col>
        <DataTable.Col source="scriptNames" disableSort render={(b) => b.scriptNames.join(' → ')} />
        <DataTable.NumberCol source="sessionCount" disableSort />
        <DataTable.Col source="counts" disableSort>
          <CountsCell />
        </DataTable.Col>
        <DataTable.Col source="status" disableSort>
          <StatusCell />
        </DataTable.Col>
        {permissions === 'admin' && <DataTable.Col source="createdBy" disableSort render={(b) => b.createdBy.name} />}
      </DataTable>
    </List>
  )
}
