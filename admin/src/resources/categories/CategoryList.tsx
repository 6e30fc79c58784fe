import { CreateButton, DataTable, DateField, DeleteWithConfirmButton, List, SearchInput, TopToolbar } from 'react-admin'
import type { Category } from '../../api/resources/categories.ts'

function ListActions() {
  return (
    <TopToolbar>
      <CreateButton label="helpline.categories.create" />
    </TopToolbar>
  )
}

const filters = [<SearchInput key="q" source="q" alwaysOn />]

/** Site admins: rename by opening a row; a category still used by scripts cannot be deleted (the API says so). */
export function CategoryList() {
  return (
    <List<Category> empty={false} filters={filters} actions={<ListActions />} sort={{ field: 'name', order: 'ASC' }} exporter={false}>
      <DataTable<Category> rowClick="edit" bulkActionButtons={false}>
        <DataTable.Col source="name" />
        <DataTable.Col source="createdAt">
          <DateField source="createdAt" showTime />
        </DataTable.Col>
        <DataTable.Col label={false} disableSort>
          <DeleteWithConfirmButton
            confirmTitle="helpline.categories.delete_title"
            confirmContent="helpline.categories.delete_content"
            successMessage="helpline.categories.deleted"
            mutationMode="pessimistic"
            redirect={false}
          />
        </DataTable.Col>
      </DataTable>
    </List>
  )
}
