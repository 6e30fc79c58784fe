import { CreateButton, DataTable, DateField, DeleteWithConfirmButton, List, SearchInput, TopToolbar, useNotify } from 'react-admin'
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
  const notify = useNotify()
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
            // A refusal ("still used by scripts") stays until dismissed: it needs reading, not a 2-second glimpse.
            mutationOptions={{ onError: (error: unknown) => notify((error instanceof Error && error.message) || 'ra.notification.http_error', { type: 'error', autoHideDuration: null }) }}
          />
        </DataTable.Col>
      </DataTable>
    </List>
  )
}
