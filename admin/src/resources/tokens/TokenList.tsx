import { Box } from '@mui/material'
import {
  CreateButton,
  DataTable,
  DateField,
  DeleteWithConfirmButton,
  List,
  TextField,
  TopToolbar,
} from 'react-admin'
import type { ApiToken } from '../../api/resources/tokens.ts'
import { ScopesField } from './scopes.tsx'

function ListActions() {
  return (
    <TopToolbar>
      <CreateButton label="helpline.tokens.create" />
    </TopToolbar>
  )
}

function PrefixField(_props: { label?: string }) {
  return (
    <Box component="span" sx={{ fontFamily: 'monospace' }}>
      <TextField source="prefix" sx={{ fontFamily: 'inherit' }} />…
    </Box>
  )
}

/** The caller's own tokens with what each may do and where it was last used; the API sorts them by creation time only. */
export function TokenList() {
  return (
    <List<ApiToken> actions={<ListActions />} sort={{ field: 'createdAt', order: 'DESC' }} exporter={false}>
      <DataTable<ApiToken> rowClick={false} bulkActionButtons={false}>
        <DataTable.Col source="name" disableSort />
        <DataTable.Col source="prefix" disableSort>
          <PrefixField />
        </DataTable.Col>
        <DataTable.Col source="scopes" disableSort>
          <ScopesField />
        </DataTable.Col>
        <DataTable.Col source="createdAt">
          <DateField source="createdAt" showTime />
        </DataTable.Col>
        <DataTable.Col source="expiresAt" disableSort>
          <DateField source="expiresAt" showTime emptyText="helpline.tokens.never" />
        </DataTable.Col>
        <DataTable.Col source="lastUsedAt" disableSort>
          <DateField source="lastUsedAt" showTime emptyText="helpline.tokens.never" />
        </DataTable.Col>
        <DataTable.Col source="lastUsedIp" disableSort>
          <TextField source="lastUsedIp" emptyText="—" />
        </DataTable.Col>
        <DataTable.Col label={false} disableSort>
          <DeleteWithConfirmButton
            label="helpline.tokens.revoke"
            confirmTitle="helpline.tokens.revoke_title"
            confirmContent="helpline.tokens.revoke_content"
            successMessage="helpline.tokens.revoked"
            mutationMode="pessimistic"
            redirect={false}
          />
        </DataTable.Col>
      </DataTable>
    </List>
  )
}
