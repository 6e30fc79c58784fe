import { DataTable, DateField, List, SearchInput, SelectField, SelectInput } from 'react-admin'
import type { User } from '../../api/resources/users.ts'
import { formatStatus, parseStatus, roleChoices, statusChoices } from './roles.ts'
import { ToggleDisabledButton } from './ToggleDisabledButton.tsx'
import { UserStatusField } from './UserStatusField.tsx'

const filters = [
  <SearchInput key="q" source="q" alwaysOn />,
  <SelectInput key="role" source="role" choices={roleChoices} />,
  <SelectInput key="disabled" source="disabled" choices={statusChoices} parse={parseStatus} format={formatStatus} />,
]

export function UserList() {
  return (
    <List<User> filters={filters} sort={{ field: 'createdAt', order: 'DESC' }}>
      <DataTable<User> rowClick="edit" bulkActionButtons={false}>
        <DataTable.Col source="email" />
        <DataTable.Col source="name" />
        <DataTable.Col source="role">
          <SelectField source="role" choices={roleChoices} />
        </DataTable.Col>
        <DataTable.Col source="disabled" disableSort>
          <UserStatusField />
        </DataTable.Col>
        <DataTable.Col source="lastLoginAt" disableSort>
          <DateField source="lastLoginAt" showTime emptyText="helpline.users.never" />
        </DataTable.Col>
        <DataTable.Col source="createdAt">
          <DateField source="createdAt" showTime />
        </DataTable.Col>
        <DataTable.Col label={false} disableSort>
          <ToggleDisabledButton />
        </DataTable.Col>
      </DataTable>
    </List>
  )
}
