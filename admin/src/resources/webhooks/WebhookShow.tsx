import { useCallback, useEffect, useState } from 'react'
import { Box, Button, Chip, Table, TableBody, TableCell, TableHead, TableRow, Typography } from '@mui/material'
import Refresh from '@mui/icons-material/Refresh'
import Replay from '@mui/icons-material/Replay'
import {
  BooleanField,
  DateField,
  DeleteWithConfirmButton,
  EditButton,
  Labeled,
  Show,
  SimpleShowLayout,
  TextField,
  TopToolbar,
  useDataProvider,
  useNotify,
  useRecordContext,
  useTranslate,
} from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { WebhookDelivery, WebhookEndpoint } from '../../api/resources/webhooks.ts'
import { EventChips } from './WebhookList.tsx'

function ShowActions() {
  return (
    <TopToolbar>
      <EditButton />
      <DeleteWithConfirmButton
        confirmTitle="helpline.webhooks.delete_title"
        confirmContent="helpline.webhooks.delete_content"
        mutationMode="pessimistic"
        redirect="list"
      />
    </TopToolbar>
  )
}

const statusColour = { pending: 'warning', succeeded: 'success', failed: 'error' } as const

/** What the last attempt got: the HTTP status, or why there was none. */
function lastOutcome(d: WebhookDelivery): string {
  const last = d.attempts.at(-1)
  if (!last) return ''
  return [last.statusCode ?? '', last.error ?? ''].filter((p) => p !== '').join(' · ')
}

/** An endpoint's latest deliveries with their attempts; any of them can be sent again. */
function Deliveries() {
  const record = useRecordContext<WebhookEndpoint>()
  const dataProvider = useDataProvider<AppDataProvider>()
  const translate = useTranslate()
  const notify = useNotify()
  const [rows, setRows] = useState<WebhookDelivery[]>([])
  const endpointId = record?.id
  const load = useCallback(async () => {
    if (!endpointId) return
    try {
      setRows((await dataProvider.listWebhookDeliveries(String(endpointId))).data)
    } catch (err) {
      notify((err as Error).message, { type: 'error' })
    }
  }, [dataProvider, endpointId, notify])
  useEffect(() => {
    void load()
  }, [load])
  const replay = async (d: WebhookDelivery) => {
    try {
      await dataProvider.replayWebhookDelivery(d.endpointId, d.id)
      notify('helpline.webhooks.replayed', { type: 'info' })
      await load()
    } catch (err) {
      notify((err as Error).message, { type: 'error' })
    }
  }
  return (
    <Box sx={{ mt: 3 }}>
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 1 }}>
        <Typography variant="h6">{translate('helpline.webhooks.deliveries')}</Typography>
        <Button size="small" startIcon={<Refresh />} onClick={() => void load()} data-testid="refresh-deliveries">
          {translate('ra.action.refresh')}
        </Button>
      </Box>
      {rows.length === 0 ? (
        <Typography color="text.secondary">{translate('helpline.webhooks.no_deliveries')}</Typography>
      ) : (
        <Table size="small" data-testid="webhook-deliveries">
          <TableHead>
            <TableRow>
              <TableCell>{translate('helpline.webhooks.event')}</TableCell>
              <TableCell>{translate('helpline.webhooks.status')}</TableCell>
              <TableCell>{translate('helpline.webhooks.attempts')}</TableCell>
              <TableCell>{translate('helpline.webhooks.last_attempt')}</TableCell>
              <TableCell>{translate('helpline.webhooks.next_attempt')}</TableCell>
              <TableCell />
            </TableRow>
          </TableHead>
          <TableBody>
            {rows.map((d) => (
              <TableRow key={d.id} title={d.webhookId}>
                <TableCell>{translate(`helpline.webhooks.events.${d.eventType.replace('.', '_')}`)}</TableCell>
                <TableCell>
                  <Chip size="small" color={statusColour[d.status]} label={translate(`helpline.webhooks.statuses.${d.status}`)} />
                </TableCell>
                <TableCell>{d.attemptCount}</TableCell>
                <TableCell>
                  {d.lastAttemptAt ? new Date(d.lastAttemptAt).toLocaleString() : ''} {lastOutcome(d)}
                </TableCell>
                <TableCell>{d.nextAttemptAt ? new Date(d.nextAttemptAt).toLocaleString() : ''}</TableCell>
                <TableCell>
                  <Button size="small" startIcon={<Replay />} onClick={() => void replay(d)}>
                    {translate('helpline.webhooks.replay')}
                  </Button>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </Box>
  )
}

export function WebhookShow() {
  return (
    <Show actions={<ShowActions />}>
      <SimpleShowLayout>
        <TextField source="url" />
        <TextField source="description" />
        <Labeled source="eventTypes">
          <EventChips />
        </Labeled>
        <BooleanField source="enabled" />
        <DateField source="createdAt" showTime />
        <Deliveries />
      </SimpleShowLayout>
    </Show>
  )
}
