import { BooleanField, CreateButton, DataTable, DateField, List, TopToolbar, useRecordContext, useTranslate } from 'react-admin'
import { Chip, Stack } from '@mui/material'
import type { WebhookEndpoint } from '../../api/resources/webhooks.ts'

function ListActions() {
  return (
    <TopToolbar>
      <CreateButton label="helpline.webhooks.create" />
    </TopToolbar>
  )
}

export function EventChips() {
  const record = useRecordContext<WebhookEndpoint>()
  const translate = useTranslate()
  return (
    <Stack direction="row" spacing={0.5} useFlexGap sx={{ flexWrap: 'wrap' }}>
      {(record?.eventTypes ?? []).map((e) => (
        <Chip key={e} size="small" label={translate(`helpline.webhooks.events.${e.replace('.', '_')}`)} />
      ))}
    </Stack>
  )
}

/** Site admins: the endpoints integrators receive events at; open one for its deliveries. */
export function WebhookList() {
  return (
    <List<WebhookEndpoint> empty={false} actions={<ListActions />} sort={{ field: 'createdAt', order: 'DESC' }} exporter={false}>
      <DataTable<WebhookEndpoint> rowClick="show" bulkActionButtons={false}>
        <DataTable.Col source="url" />
        <DataTable.Col source="description" disableSort />
        <DataTable.Col source="eventTypes" disableSort>
          <EventChips />
        </DataTable.Col>
        <DataTable.Col source="enabled" disableSort>
          <BooleanField source="enabled" />
        </DataTable.Col>
        <DataTable.Col source="createdAt">
          <DateField source="createdAt" showTime />
        </DataTable.Col>
      </DataTable>
    </List>
  )
}

