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
  FilterButton,
  useGetIdentity,
} from 'react-admin'
import type { ScriptRecord } from '../../api/resources/scripts.ts'
import { formatBytes } from './format.ts'

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

/** The script library: every column sorts on the server. */
export function ScriptList() {
  return (
    <List<ScriptRecord> empty={false} filters={useFilters()} actions={<ListActions />} sort={{ field: 'name', order: 'ASC' }} exporter={false}>
      <DataTable<ScriptRecord> rowClick="show" bulkActionButtons={false}>
        <DataTable.Col source="name" />
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
      </DataTable>
    </List>
  )
}
