import { useMemo } from 'react'
import {
  BooleanField,
  CreateButton,
  DataTable,
  DateField,
  List,
  ReferenceInput,
  SearchInput,
  SelectInput,
  TopToolbar,
  EditButton,
  FilterButton,
  useGetIdentity,
  useRecordContext,
} from 'react-admin'
import { Box, Link as MuiLink } from '@mui/material'
import { Link } from 'react-router-dom'
import type { ScriptRecord } from '../../api/resources/scripts.ts'
import { formatBytes } from './format.ts'
import { useScriptRights } from './owner.ts'
import { DeleteScriptButton } from './ScriptEdit.tsx'

/** The `published` filter as a select: booleans travel as 'true' / 'false' strings in the form. */
const publishedChoices = [
  { id: 'true', name: 'helpline.scripts.published' },
  { id: 'false', name: 'helpline.scripts.unpublished' },
]
const parseBoolean = (value: string) => (value === 'true' ? true : value === 'false' ? false : undefined)
const formatBoolean = (value: unknown) => (value === undefined || value === null ? '' : String(value))

function useFilters() {
  const { identity } = useGetIdentity()
  return useMemo(
    () => [
      <SearchInput key="q" source="q" alwaysOn />,
      <ReferenceInput key="categoryId" source="categoryId" reference="categories" perPage={100} sort={{ field: 'name', order: 'ASC' }}>
        <SelectInput optionText="name" />
      </ReferenceInput>,
      <SelectInput key="published" source="published" choices={publishedChoices} parse={parseBoolean} format={formatBoolean} />,
      // CSRs cannot list users; "mine" is the owner filter everyone can use.
      <SelectInput key="ownerId" source="ownerId" choices={identity ? [{ id: String(identity.id), name: 'helpline.scripts.mine' }] : []} />,
    ],
    [identity],
  )
}

function ListActions() {
  return (
    <TopToolbar>
      <FilterButton />
      <CreateButton label="helpline.scripts.create" />
    </TopToolbar>
  )
}

/** The name as a link to the script: rows open with the keyboard too. */
function NameCell() {
  const script = useRecordContext<ScriptRecord>()
  if (!script) return null
  return (
    <MuiLink component={Link} to={`/scripts/${script.id}/show`} underline="hover" data-testid="script-link">
      {script.name}
    </MuiLink>
  )
}

/** Edit and Delete, for the script's owner only (the API refuses everyone else, site admins included). */
function ActionsCell() {
  const script = useRecordContext<ScriptRecord>()
  const { owner } = useScriptRights(script)
  if (!owner) return null
  return (
    // Clicks here act on the button, not on the row.
    <Box sx={{ display: 'flex', gap: 0.5, justifyContent: 'flex-end' }} onClick={(e) => e.stopPropagation()}>
      <EditButton />
      <DeleteScriptButton redirect={false} />
    </Box>
  )
}

/** The script library: every column sorts on the server. */
export function ScriptList() {
  return (
    <List<ScriptRecord> empty={false} filters={useFilters()} actions={<ListActions />} sort={{ field: 'name', order: 'ASC' }} exporter={false}>
      <DataTable<ScriptRecord> rowClick="show" bulkActionButtons={false}>
        <DataTable.Col source="name">
          <NameCell />
        </DataTable.Col>
        <DataTable.Col source="categoryName" />
        <DataTable.Col source="ownerName" />
        <DataTable.Col source="size" align="right" render={(script) => formatBytes(script.size)} />
        <DataTable.NumberCol source="version" />
        <DataTable.Col source="published">
          <BooleanField source="published" />
        </DataTable.Col>
        <DataTable.Col source="updatedAt">
          <DateField source="updatedAt" showTime />
        </DataTable.Col>
        <DataTable.Col label={false} disableSort>
          <ActionsCell />
        </DataTable.Col>
      </DataTable>
    </List>
  )
}
